//! The JSON type of every body member of every management operation's
//! input shape, recursively: what `input_check` holds a request body to.
//! Everything from `INPUTS` on is generated from
//! specs/apigateway-2015-07-09.service.json by `cargo test --test
//! management_input_types -- --ignored` (do not edit it by hand; the part
//! above it is kept); tests/management_input_types.rs fails when it
//! differs from the model. Operations with a payload member (a raw body)
//! and operations with no body member are not listed.

#![allow(non_upper_case_globals)]

/// A member's JSON type.
#[derive(Debug, Clone, Copy)]
pub enum Ty {
    /// `string` (and `blob`, base64 in JSON): a JSON string.
    Str,
    /// `boolean`: `true` or `false`.
    Bool,
    /// `integer`, `long`: a JSON number without a fraction.
    Int,
    /// `double`, `float`: any JSON number.
    Num,
    /// `timestamp`: a number (epoch seconds) or a string. No body member
    /// of today's model is one.
    #[allow(dead_code)]
    Time,
    /// `list`: an array of the element type.
    List(&'static Ty),
    /// `map`: an object whose values are of the value type.
    Map(&'static Ty),
    /// `structure`: an object with these members (wire name, type).
    Struct(&'static [(&'static str, Ty)]),
}

/// Each listed operation's body members, by operation name (sorted).
#[rustfmt::skip]
pub const INPUTS: &[(&str, &[(&str, Ty)])] = &[
    ("CreateApiKey", CreateApiKeyRequest),
    ("CreateAuthorizer", CreateAuthorizerRequest),
    ("CreateBasePathMapping", CreateBasePathMappingRequest),
    ("CreateDeployment", CreateDeploymentRequest),
    ("CreateDocumentationPart", CreateDocumentationPartRequest),
    ("CreateDocumentationVersion", CreateDocumentationVersionRequest),
    ("CreateDomainName", CreateDomainNameRequest),
    ("CreateDomainNameAccessAssociation", CreateDomainNameAccessAssociationRequest),
    ("CreateModel", CreateModelRequest),
    ("CreateRequestValidator", CreateRequestValidatorRequest),
    ("CreateResource", CreateResourceRequest),
    ("CreateRestApi", CreateRestApiRequest),
    ("CreateStage", CreateStageRequest),
    ("CreateUsagePlan", CreateUsagePlanRequest),
    ("CreateUsagePlanKey", CreateUsagePlanKeyRequest),
    ("CreateVpcLink", CreateVpcLinkRequest),
    ("GenerateClientCertificate", GenerateClientCertificateRequest),
    ("PutGatewayResponse", PutGatewayResponseRequest),
    ("PutIntegration", PutIntegrationRequest),
    ("PutIntegrationResponse", PutIntegrationResponseRequest),
    ("PutMethod", PutMethodRequest),
    ("PutMethodResponse", PutMethodResponseRequest),
    ("TagResource", TagResourceRequest),
    ("TestInvokeAuthorizer", TestInvokeAuthorizerRequest),
    ("TestInvokeMethod", TestInvokeMethodRequest),
    ("UpdateAccount", UpdateAccountRequest),
    ("UpdateApiKey", UpdateApiKeyRequest),
    ("UpdateAuthorizer", UpdateAuthorizerRequest),
    ("UpdateBasePathMapping", UpdateBasePathMappingRequest),
    ("UpdateClientCertificate", UpdateClientCertificateRequest),
    ("UpdateDeployment", UpdateDeploymentRequest),
    ("UpdateDocumentationPart", UpdateDocumentationPartRequest),
    ("UpdateDocumentationVersion", UpdateDocumentationVersionRequest),
    ("UpdateDomainName", UpdateDomainNameRequest),
    ("UpdateGatewayResponse", UpdateGatewayResponseRequest),
    ("UpdateIntegration", UpdateIntegrationRequest),
    ("UpdateIntegrationResponse", UpdateIntegrationResponseRequest),
    ("UpdateMethod", UpdateMethodRequest),
    ("UpdateMethodResponse", UpdateMethodResponseRequest),
    ("UpdateModel", UpdateModelRequest),
    ("UpdateRequestValidator", UpdateRequestValidatorRequest),
    ("UpdateResource", UpdateResourceRequest),
    ("UpdateRestApi", UpdateRestApiRequest),
    ("UpdateStage", UpdateStageRequest),
    ("UpdateUsage", UpdateUsageRequest),
    ("UpdateUsagePlan", UpdateUsagePlanRequest),
    ("UpdateVpcLink", UpdateVpcLinkRequest),
];

#[rustfmt::skip]
const ApiStage: &[(&str, Ty)] = &[("apiId", Ty::Str), ("stage", Ty::Str), ("throttle", Ty::Map(&Ty::Struct(ThrottleSettings)))];

#[rustfmt::skip]
const CanarySettings: &[(&str, Ty)] = &[("deploymentId", Ty::Str), ("percentTraffic", Ty::Num), ("stageVariableOverrides", Ty::Map(&Ty::Str)), ("useStageCache", Ty::Bool)];

#[rustfmt::skip]
const CreateApiKeyRequest: &[(&str, Ty)] = &[("customerId", Ty::Str), ("description", Ty::Str), ("enabled", Ty::Bool), ("generateDistinctId", Ty::Bool), ("name", Ty::Str), ("stageKeys", Ty::List(&Ty::Struct(StageKey))), ("tags", Ty::Map(&Ty::Str)), ("value", Ty::Str)];

#[rustfmt::skip]
const CreateAuthorizerRequest: &[(&str, Ty)] = &[("authType", Ty::Str), ("authorizerCredentials", Ty::Str), ("authorizerResultTtlInSeconds", Ty::Int), ("authorizerUri", Ty::Str), ("identitySource", Ty::Str), ("identityValidationExpression", Ty::Str), ("jwtConfiguration", Ty::Struct(JwtConfigurationInput)), ("name", Ty::Str), ("providerARNs", Ty::List(&Ty::Str)), ("type", Ty::Str)];

#[rustfmt::skip]
const CreateBasePathMappingRequest: &[(&str, Ty)] = &[("basePath", Ty::Str), ("restApiId", Ty::Str), ("stage", Ty::Str)];

#[rustfmt::skip]
const CreateDeploymentRequest: &[(&str, Ty)] = &[("cacheClusterEnabled", Ty::Bool), ("cacheClusterSize", Ty::Str), ("canarySettings", Ty::Struct(DeploymentCanarySettings)), ("description", Ty::Str), ("stageDescription", Ty::Str), ("stageName", Ty::Str), ("tracingEnabled", Ty::Bool), ("variables", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const CreateDocumentationPartRequest: &[(&str, Ty)] = &[("location", Ty::Struct(DocumentationPartLocation)), ("properties", Ty::Str)];

#[rustfmt::skip]
const CreateDocumentationVersionRequest: &[(&str, Ty)] = &[("description", Ty::Str), ("documentationVersion", Ty::Str), ("stageName", Ty::Str)];

#[rustfmt::skip]
const CreateDomainNameAccessAssociationRequest: &[(&str, Ty)] = &[("accessAssociationSource", Ty::Str), ("accessAssociationSourceType", Ty::Str), ("domainNameArn", Ty::Str), ("tags", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const CreateDomainNameRequest: &[(&str, Ty)] = &[("certificateArn", Ty::Str), ("certificateBody", Ty::Str), ("certificateChain", Ty::Str), ("certificateName", Ty::Str), ("certificatePrivateKey", Ty::Str), ("domainName", Ty::Str), ("endpointAccessMode", Ty::Str), ("endpointConfiguration", Ty::Struct(EndpointConfiguration)), ("mutualTlsAuthentication", Ty::Struct(MutualTlsAuthenticationInput)), ("ownershipVerificationCertificateArn", Ty::Str), ("policy", Ty::Str), ("regionalCertificateArn", Ty::Str), ("regionalCertificateName", Ty::Str), ("routingMode", Ty::Str), ("securityPolicy", Ty::Str), ("tags", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const CreateModelRequest: &[(&str, Ty)] = &[("contentType", Ty::Str), ("description", Ty::Str), ("name", Ty::Str), ("schema", Ty::Str)];

#[rustfmt::skip]
const CreateRequestValidatorRequest: &[(&str, Ty)] = &[("name", Ty::Str), ("validateRequestBody", Ty::Bool), ("validateRequestParameters", Ty::Bool)];

#[rustfmt::skip]
const CreateResourceRequest: &[(&str, Ty)] = &[("pathPart", Ty::Str)];

#[rustfmt::skip]
const CreateRestApiRequest: &[(&str, Ty)] = &[("apiKeySource", Ty::Str), ("binaryMediaTypes", Ty::List(&Ty::Str)), ("cloneFrom", Ty::Str), ("description", Ty::Str), ("disableExecuteApiEndpoint", Ty::Bool), ("endpointAccessMode", Ty::Str), ("endpointConfiguration", Ty::Struct(EndpointConfiguration)), ("minimumCompressionSize", Ty::Int), ("name", Ty::Str), ("policy", Ty::Str), ("securityPolicy", Ty::Str), ("tags", Ty::Map(&Ty::Str)), ("version", Ty::Str)];

#[rustfmt::skip]
const CreateStageRequest: &[(&str, Ty)] = &[("cacheClusterEnabled", Ty::Bool), ("cacheClusterSize", Ty::Str), ("canarySettings", Ty::Struct(CanarySettings)), ("deploymentId", Ty::Str), ("description", Ty::Str), ("documentationVersion", Ty::Str), ("stageName", Ty::Str), ("tags", Ty::Map(&Ty::Str)), ("tracingEnabled", Ty::Bool), ("variables", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const CreateUsagePlanKeyRequest: &[(&str, Ty)] = &[("keyId", Ty::Str), ("keyType", Ty::Str)];

#[rustfmt::skip]
const CreateUsagePlanRequest: &[(&str, Ty)] = &[("apiStages", Ty::List(&Ty::Struct(ApiStage))), ("description", Ty::Str), ("name", Ty::Str), ("quota", Ty::Struct(QuotaSettings)), ("tags", Ty::Map(&Ty::Str)), ("throttle", Ty::Struct(ThrottleSettings))];

#[rustfmt::skip]
const CreateVpcLinkRequest: &[(&str, Ty)] = &[("description", Ty::Str), ("name", Ty::Str), ("tags", Ty::Map(&Ty::Str)), ("targetArns", Ty::List(&Ty::Str))];

#[rustfmt::skip]
const DeploymentCanarySettings: &[(&str, Ty)] = &[("percentTraffic", Ty::Num), ("stageVariableOverrides", Ty::Map(&Ty::Str)), ("useStageCache", Ty::Bool)];

#[rustfmt::skip]
const DocumentationPartLocation: &[(&str, Ty)] = &[("method", Ty::Str), ("name", Ty::Str), ("path", Ty::Str), ("statusCode", Ty::Str), ("type", Ty::Str)];

#[rustfmt::skip]
const EndpointConfiguration: &[(&str, Ty)] = &[("ipAddressType", Ty::Str), ("types", Ty::List(&Ty::Str)), ("vpcEndpointIds", Ty::List(&Ty::Str))];

#[rustfmt::skip]
const GenerateClientCertificateRequest: &[(&str, Ty)] = &[("description", Ty::Str), ("tags", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const JwtAdditionalClaim: &[(&str, Ty)] = &[("claimName", Ty::Str), ("expectedValues", Ty::List(&Ty::Str)), ("format", Ty::Str), ("required", Ty::Bool)];

#[rustfmt::skip]
const JwtConfigurationInput: &[(&str, Ty)] = &[("defaultAlgorithms", Ty::List(&Ty::Str)), ("issuers", Ty::List(&Ty::Struct(JwtIssuerInput)))];

#[rustfmt::skip]
const JwtIssuerInput: &[(&str, Ty)] = &[("additionalClaims", Ty::List(&Ty::Struct(JwtAdditionalClaim))), ("audiences", Ty::List(&Ty::Str)), ("issuer", Ty::Str)];

#[rustfmt::skip]
const MutualTlsAuthenticationInput: &[(&str, Ty)] = &[("truststoreUri", Ty::Str), ("truststoreVersion", Ty::Str)];

#[rustfmt::skip]
const PatchOperation: &[(&str, Ty)] = &[("from", Ty::Str), ("op", Ty::Str), ("path", Ty::Str), ("value", Ty::Str)];

#[rustfmt::skip]
const PutGatewayResponseRequest: &[(&str, Ty)] = &[("responseParameters", Ty::Map(&Ty::Str)), ("responseTemplates", Ty::Map(&Ty::Str)), ("statusCode", Ty::Str)];

#[rustfmt::skip]
const PutIntegrationRequest: &[(&str, Ty)] = &[("cacheKeyParameters", Ty::List(&Ty::Str)), ("cacheNamespace", Ty::Str), ("connectionId", Ty::Str), ("connectionType", Ty::Str), ("contentHandling", Ty::Str), ("credentials", Ty::Str), ("httpMethod", Ty::Str), ("integrationTarget", Ty::Str), ("passthroughBehavior", Ty::Str), ("requestParameters", Ty::Map(&Ty::Str)), ("requestTemplates", Ty::Map(&Ty::Str)), ("responseTransferMode", Ty::Str), ("timeoutInMillis", Ty::Int), ("tlsConfig", Ty::Struct(TlsConfig)), ("type", Ty::Str), ("uri", Ty::Str)];

#[rustfmt::skip]
const PutIntegrationResponseRequest: &[(&str, Ty)] = &[("contentHandling", Ty::Str), ("responseParameters", Ty::Map(&Ty::Str)), ("responseTemplates", Ty::Map(&Ty::Str)), ("selectionPattern", Ty::Str)];

#[rustfmt::skip]
const PutMethodRequest: &[(&str, Ty)] = &[("apiKeyRequired", Ty::Bool), ("authorizationScopes", Ty::List(&Ty::Str)), ("authorizationType", Ty::Str), ("authorizerId", Ty::Str), ("operationName", Ty::Str), ("requestModels", Ty::Map(&Ty::Str)), ("requestParameters", Ty::Map(&Ty::Bool)), ("requestValidatorId", Ty::Str)];

#[rustfmt::skip]
const PutMethodResponseRequest: &[(&str, Ty)] = &[("responseModels", Ty::Map(&Ty::Str)), ("responseParameters", Ty::Map(&Ty::Bool))];

#[rustfmt::skip]
const QuotaSettings: &[(&str, Ty)] = &[("limit", Ty::Int), ("offset", Ty::Int), ("period", Ty::Str)];

#[rustfmt::skip]
const StageKey: &[(&str, Ty)] = &[("restApiId", Ty::Str), ("stageName", Ty::Str)];

#[rustfmt::skip]
const TagResourceRequest: &[(&str, Ty)] = &[("tags", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const TestInvokeAuthorizerRequest: &[(&str, Ty)] = &[("additionalContext", Ty::Map(&Ty::Str)), ("body", Ty::Str), ("headers", Ty::Map(&Ty::Str)), ("multiValueHeaders", Ty::Map(&Ty::List(&Ty::Str))), ("pathWithQueryString", Ty::Str), ("stageVariables", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const TestInvokeMethodRequest: &[(&str, Ty)] = &[("body", Ty::Str), ("clientCertificateId", Ty::Str), ("headers", Ty::Map(&Ty::Str)), ("multiValueHeaders", Ty::Map(&Ty::List(&Ty::Str))), ("pathWithQueryString", Ty::Str), ("stageVariables", Ty::Map(&Ty::Str))];

#[rustfmt::skip]
const ThrottleSettings: &[(&str, Ty)] = &[("burstLimit", Ty::Int), ("rateLimit", Ty::Num)];

#[rustfmt::skip]
const TlsConfig: &[(&str, Ty)] = &[("insecureSkipVerification", Ty::Bool)];

#[rustfmt::skip]
const UpdateAccountRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateApiKeyRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateAuthorizerRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateBasePathMappingRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateClientCertificateRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateDeploymentRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateDocumentationPartRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateDocumentationVersionRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateDomainNameRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateGatewayResponseRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateIntegrationRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateIntegrationResponseRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateMethodRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateMethodResponseRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateModelRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateRequestValidatorRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateResourceRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateRestApiRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateStageRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateUsagePlanRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateUsageRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];

#[rustfmt::skip]
const UpdateVpcLinkRequest: &[(&str, Ty)] = &[("patchOperations", Ty::List(&Ty::Struct(PatchOperation)))];
