-- One node's usage batch, added at most once however often it is sent.
-- KEYS[1]: the node run's marker (`usage:applied:NODE:BOOT`), holding the
-- sequence number of the last batch it added; KEYS[2..]: one hash per
-- plan and UTC day, with fields `c:KEY` (calls) and `b:KEY` (bytes).
-- ARGV[1]: this batch's sequence number; ARGV[2]: the marker's lifetime
-- (s); then per hash KEYS[i] (i >= 2): a count n and n triples of key id,
-- calls, bytes.
-- A batch whose call timed out may still run later (a frozen Redis reads
-- it once it thaws): the node sends it again, and the marker makes the
-- second run add nothing, so usage is neither lost nor counted twice.
-- Returns 1 when added, 0 when the batch had been added before.
local last = tonumber(redis.call('GET', KEYS[1]) or '0')
local seq = tonumber(ARGV[1])
if seq <= last then
  return 0
end
local a = 3
for i = 2, #KEYS do
  local n = tonumber(ARGV[a])
  a = a + 1
  for _ = 1, n do
    local key, calls, bytes = ARGV[a], ARGV[a + 1], ARGV[a + 2]
    a = a + 3
    if calls ~= '0' then
      redis.call('HINCRBY', KEYS[i], 'c:' .. key, calls)
    end
    if bytes ~= '0' then
      redis.call('HINCRBY', KEYS[i], 'b:' .. key, bytes)
    end
  end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
