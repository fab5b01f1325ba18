-- One node's lease of every active quota, in one call.
-- KEYS[2i-1]: quota i's hash for its period: `used` (calls spent
-- cluster-wide this period) and `n:NODE` = "seq spent held seen" for each
-- run of each node; KEYS[2i]: the period's UpdateUsage adjustments.
-- ARGV: node (with its run), stale (s: a node silent this long holds
-- nothing), then 8 per quota: key id, limit, want, spent (this node's
-- calls this period, cumulative), held (granted to it and not spent),
-- seq (of this call, rising), lifetime (ms), used (at start, if new).
-- Grants come out of what remains once every node's holding is counted,
-- so the fleet never admits more than the limit. `spent` is cumulative
-- and `seq` rising, so a call that timed out but ran late (or runs after
-- a newer one) neither counts calls twice nor grants what is lost.
-- Returns per quota {granted, 1 if the quota is used up cluster-wide}.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local mine = 'n:' .. ARGV[1]
local stale = tonumber(ARGV[2])
local out = {}
for i = 1, #KEYS / 2 do
  local qk, ak = KEYS[2 * i - 1], KEYS[2 * i]
  local a = 2 + (i - 1) * 8
  local key_id = ARGV[a + 1]
  local limit = tonumber(ARGV[a + 2])
  local want = tonumber(ARGV[a + 3])
  local spent = tonumber(ARGV[a + 4])
  local held = tonumber(ARGV[a + 5])
  local seq = tonumber(ARGV[a + 6])
  redis.call('HSETNX', qk, 'used', ARGV[a + 8])
  local f = redis.call('HGETALL', qk)
  local used, others = 0, 0
  local mseq, mspent, mheld = 0, 0, 0
  for j = 1, #f, 2 do
    local name, v = f[j], f[j + 1]
    if name == 'used' then
      used = tonumber(v)
    elseif name == mine then
      local s, sp, h = string.match(v, '^(%S+) (%S+) (%S+)')
      mseq, mspent, mheld = tonumber(s), tonumber(sp), tonumber(h)
    elseif string.sub(name, 1, 2) == 'n:' then
      local h, seen = string.match(v, '^%S+ %S+ (%S+) (%S+)$')
      if now - (tonumber(seen) or 0) <= stale then
        others = others + (tonumber(h) or 0)
      end
    end
  end
  local adj = tonumber(redis.call('HGET', ak, key_id) or '0')
  local grant = 0
  if seq > mseq then
    if spent > mspent then
      used = used + spent - mspent
      redis.call('HSET', qk, 'used', used)
      mspent = spent
    end
    local avail = limit - adj - used - others - held
    grant = math.max(math.min(want, avail), 0)
    mheld = held + grant
    redis.call('HSET', qk, mine, string.format('%d %d %d %.6f', seq, mspent, mheld, now))
    redis.call('PEXPIRE', qk, ARGV[a + 7])
  else
    held = mheld
  end
  -- Used up only once every call is spent: while another node still
  -- holds some, this one's calls wait (it may get what that node gives
  -- back) rather than being told the quota is used up.
  local dry = 0
  if limit - adj - used <= 0 then
    dry = 1
  end
  out[i] = {grant, dry}
end
return out
