-- A management call's change, all or none (a script runs alone), and the
-- fleet's revision bumped with it. KEYS: 1 revision, 2 insertion counter,
-- 3 plan memberships, 4.. the tables, then the API keys' lookup index
-- (an op with `x` keeps it: one key per value, as SQLite's unique index). ARGV[1]: the operations, JSON.
-- ARGV[2]: the deadline, Redis's clock in milliseconds: a change that
-- arrives later (Redis was frozen, the node answered 503) is not applied.
-- Answers {revision, found...}, {-1} when an insert finds its row, {-2}
-- past the deadline.
local now = redis.call('TIME')
if tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000) > tonumber(ARGV[2]) then
  return {-2}
end
local ops = cjson.decode(ARGV[1])
for _, op in ipairs(ops) do
  if op.o == 'insert' and redis.call('HEXISTS', KEYS[op.t], op.f) == 1 then
    return {-1}
  end
  if op.x and op.row and op.row.lookup then
    local owner = redis.call('HGET', KEYS[op.x], op.row.lookup)
    if owner and owner ~= op.f then
      return {-1}
    end
  end
end
local out = {}
for i, op in ipairs(ops) do
  local k = KEYS[op.t]
  local r = 0
  if op.o == 'upsert' or op.o == 'insert' then
    local row = op.row
    local old = redis.call('HGET', k, op.f)
    if old then
      old = cjson.decode(old)
      row.created = old.created
      row.seq = old.seq
      if op.x and type(old.lookup) == 'string' and old.lookup ~= row.lookup then
        redis.call('HDEL', KEYS[op.x], old.lookup)
      end
    else
      row.seq = redis.call('INCR', KEYS[2])
    end
    redis.call('HSET', k, op.f, cjson.encode(row))
    if op.x and row.lookup then
      redis.call('HSET', KEYS[op.x], row.lookup, op.f)
    end
    r = 1
  elseif op.o == 'update' then
    local old = redis.call('HGET', k, op.f)
    if old then
      old = cjson.decode(old)
      old.body = op.body
      redis.call('HSET', k, op.f, cjson.encode(old))
      r = 1
    end
  elseif op.o == 'delete' then
    if op.x then
      local old = redis.call('HGET', k, op.f)
      if old then
        old = cjson.decode(old)
        if type(old.lookup) == 'string' then
          redis.call('HDEL', KEYS[op.x], old.lookup)
        end
      end
    end
    r = redis.call('HDEL', k, op.f)
  elseif op.o == 'prefix' then
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if string.sub(f, 1, #op.f) == op.f then
        redis.call('HDEL', k, f)
        r = 1
      end
    end
  elseif op.o == 'suffix' then
    for _, f in ipairs(redis.call('HKEYS', k)) do
      if #f > #op.f and string.sub(f, -#op.f) == op.f then
        redis.call('HDEL', k, f)
        r = 1
      end
    end
  elseif op.o == 'add' then
    r = redis.call('HSETNX', k, op.f, '1')
  elseif op.o == 'clear' then
    for j = 2, #KEYS do
      redis.call('DEL', KEYS[j])
    end
  end
  out[i + 1] = r
end
out[1] = redis.call('INCR', KEYS[1])
return out
