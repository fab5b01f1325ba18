-- One node's lease of every active cluster-wide bucket, in one call.
-- KEYS[i]: bucket i's hash: `b` its balance (tokens no node holds), `ts`
-- when that was last refilled (Redis TIME, never a node's clock), and
-- `n:NODE` = "seen demand held" for each node that reported lately.
-- ARGV: node, stale (s: a node not heard from for this long holds nothing
-- and wants nothing), half (s: half-life of a silent node's demand), then
-- 7 per key: rate, burst, demand, want, held, returned, exact (1: the
-- node asks for calls that wait for a token each; granted first come
-- first served, and as good as spent).
-- Tokens exist only here (refilled at `rate`, capped so that the balance
-- plus what every node holds stays within `burst`), and a node spends only
-- what it was granted: the cluster admits at most burst + rate x t. "Held"
-- leaves out what a node's demand spends within a tick: those tokens are
-- as good as spent, and counting them stopped the refill under load.
-- Returns per key {tokens granted, this node's share of demand x 1e6,
-- 1 if fewer tokens were granted than wanted and none are left else 0,
-- 1 if the bucket is slack else 0}.
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local node = ARGV[1]
local stale = tonumber(ARGV[2])
local half = tonumber(ARGV[3])
local mine = 'n:' .. node
local out = {}
for i, key in ipairs(KEYS) do
  local a = 3 + (i - 1) * 7
  local rate = tonumber(ARGV[a + 1])
  local burst = tonumber(ARGV[a + 2])
  local demand = tonumber(ARGV[a + 3])
  local want = tonumber(ARGV[a + 4])
  local held = tonumber(ARGV[a + 5])
  local returned = tonumber(ARGV[a + 6])
  local exact = ARGV[a + 7] == '1'
  local f = redis.call('HGETALL', key)
  local balance, ts = burst, now
  local others_held, total, nodes = 0, demand, 1
  for j = 1, #f, 2 do
    local name, v = f[j], f[j + 1]
    if name == 'b' then
      balance = tonumber(v)
    elseif name == 'ts' then
      ts = tonumber(v)
    elseif name ~= mine and string.sub(name, 1, 2) == 'n:' then
      local seen, d, h = string.match(v, '^(%S+) (%S+) (%S+)$')
      local age = now - (tonumber(seen) or 0)
      if age > stale then
        redis.call('HDEL', key, name)
      else
        others_held = others_held + (tonumber(h) or 0)
        total = total + (tonumber(d) or 0) * 0.5 ^ (math.max(age, 0) / half)
        nodes = nodes + 1
      end
    end
  end
  local dt = math.max(now - ts, 0)
  local room = math.max(burst - others_held - held, 0)
  balance = math.min(balance + returned + rate * dt, room)
  local share = 1 / nodes
  if total > 0 then
    share = demand / total
  end
  -- The grant: a node's share, but at least one whole token while there
  -- is one (a bucket split three ways would otherwise keep its last
  -- tokens, a share of under one, from every node until the next refill);
  -- a small bucket's, what it has of the calls asked for. What this node
  -- holds from now on: its report, and the grant beyond what a tick of its
  -- demand spends at once (as the node counts it); a small bucket's grant
  -- is spent by the calls that wait for it.
  local grant, keeps
  if exact then
    grant = math.max(math.floor(math.min(want, balance)), 0)
    keeps = held
  else
    grant = math.max(math.floor(math.min(want, balance, math.max(balance * share, 1))), 0)
    keeps = held + math.max(grant - demand / 2, 0)
  end
  balance = balance - grant
  -- Dry: the node got less than it asked for and the fleet's balance is
  -- empty, so its workers refuse at once rather than hold calls for
  -- tokens. Less than asked for out of a balance that is not empty is
  -- the node's share: calls wait for the next tick's (counted dry, calls
  -- were refused under limits far above the load; and refusing at once
  -- at the limit let a flood starve the control threads of a 2-core
  -- machine: 0.43 to 0.48 of the limit admitted, against 0.99 held).
  local empty = balance < 1 and grant < want
  redis.call('HSET', key, 'b', string.format('%.6f', balance), 'ts', string.format('%.6f', now),
    mine, string.format('%.6f %.6f %d', now, demand, math.ceil(keeps)))
  if rate > 0 then
    -- Idle long enough to be full again, and every node's entry stale:
    -- the key may go, and comes back full.
    redis.call('PEXPIRE', key, math.ceil((burst / rate + stale) * 1000))
  end
  local dry = 0
  if empty then
    dry = 1
  end
  -- Slack: after this grant half the burst is still in the balance, so no
  -- node is short of tokens. The node may skip its next asks while what
  -- it holds lasts (the books it left here age meanwhile, which a full
  -- bucket does not feel). A bucket nearer its limit is never slack: every
  -- node asks at every tick, as the split needs.
  local slack = 0
  if not exact and balance >= burst / 2 then
    slack = 1
  end
  out[i] = {grant, math.floor(share * 1000000), dry, slack}
end
return out
