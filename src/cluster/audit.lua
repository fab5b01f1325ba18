-- Adds management calls to the fleet's audit stream and trims it, in one
-- call. KEYS[1]: the stream; KEYS[2]: the last number this node process
-- added (so a batch sent again after a timeout whose first sending Redis
-- ran after all is not added twice). ARGV: the most entries to keep, the
-- oldest to keep in ms (age, by Redis TIME: no node's clock), this node's
-- id, the first event's number, then one JSON event each (numbered on).
-- Trimming is approximate (`~`, whole stream nodes at a time), which keeps
-- it O(1) per call; XADD takes one strategy only, so the age goes through
-- XTRIM MINID.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max_age = tonumber(ARGV[2])
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
local first = tonumber(ARGV[4])
local added = 0
for i = 5, #ARGV do
  local n = first + i - 5
  if n > last then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'node', ARGV[3], 'event', ARGV[i])
    last = n
    added = added + 1
  end
end
redis.call('SET', KEYS[2], last, 'PX', max_age)
local oldest = now - max_age
if oldest > 0 then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', oldest)
end
return added
