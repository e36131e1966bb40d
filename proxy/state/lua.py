"""The Lua scripts that make each limits operation one atomic step inside Redis.

They apply `proxy.state.rules` exactly (the property tests hold them to the reference model). Floats
leave as strings (Redis truncates Lua numbers to integers). A `now` below zero means "use the Redis
server's clock", which replicas share, so their own clocks never skew a window.

Both scripts work on one key's structures and take a batch: the requests (or settlements) of that
key since the last call, as one space-separated string of `ticket tokens cost` triples (one argument
to encode rather than three a request), applied in order, each exactly as if it came alone.

KEYS (both): requests zset, tokens zset, tokens hash, in-flight zset, reservations zset, reservations
hash, spent, tokens sum, reservations sum (running sums, so no step walks a whole window).
"""

from __future__ import annotations

# Shared by both scripts: read the triples, and settle (free the slot and the reservation, put the true
# tokens in place of the estimate while it is still in the window, add the true cost to the spend).
_COMMON = """
local function triples(text)
  local out = {}
  for word in string.gmatch(text, '%S+') do out[#out + 1] = word end
  return out
end
local function settle(batch)
  local spent_kept = redis.call('EXISTS', KEYS[7]) == 1
  for i = 1, #batch, 3 do
    local ticket = batch[i]
    redis.call('ZREM', KEYS[4], ticket)
    local reserved = redis.call('HGET', KEYS[6], ticket)
    if reserved then
      redis.call('ZREM', KEYS[5], ticket)
      redis.call('HDEL', KEYS[6], ticket)
      redis.call('DECRBY', KEYS[9], reserved)
    end
    local estimate = redis.call('HGET', KEYS[3], ticket)
    if estimate then
      redis.call('HSET', KEYS[3], ticket, batch[i + 1])
      redis.call('INCRBY', KEYS[8], tonumber(batch[i + 1]) - tonumber(estimate))
    end
    if spent_kept then
      redis.call('INCRBY', KEYS[7], batch[i + 2])
    end
  end
end
"""

# ARGV: settlements (triples), then now, window_s, lease_s, spent seed, rpm, tpm, max_parallel, budget
#       (-1: none), spent ttl (s), requests (triples)
# The settlements that came since the last call are applied first (they happened first); then the
# window is pruned once (the batch shares `now`), and each request is checked and counted against the
# counters the previous ones left.
# Returns 8 values a request: refused by ('' when admitted), retry after, requests and tokens in the
# window, requests and tokens reset (s), spent, reserved.
ADMIT = _COMMON + """
local function drop(zset, hash, total, upto)
  local old = redis.call('ZRANGEBYSCORE', zset, '-inf', upto)
  for i = 1, #old, 1000 do
    local batch = {unpack(old, i, math.min(i + 999, #old))}
    local gone = 0
    for _, v in ipairs(redis.call('HMGET', hash, unpack(batch))) do
      if v then gone = gone + tonumber(v) end
    end
    redis.call('HDEL', hash, unpack(batch))
    redis.call('DECRBY', total, gone)
  end
  if #old > 0 then redis.call('ZREMRANGEBYSCORE', zset, '-inf', upto) end
end
local function oldest(zset)
  local first = redis.call('ZRANGE', zset, 0, 0, 'WITHSCORES')
  if #first == 0 then return nil end
  return tonumber(first[2])
end

settle(triples(ARGV[1]))
local now = tonumber(ARGV[2])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local window, lease = tonumber(ARGV[3]), tonumber(ARGV[4])
local rpm, tpm, maxpar, budget = tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9])
local start = now - window

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', start)
drop(KEYS[2], KEYS[3], KEYS[8], start)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
drop(KEYS[5], KEYS[6], KEYS[9], now)
redis.call('SET', KEYS[7], ARGV[5], 'NX', 'EX', ARGV[10])

local nreq = redis.call('ZCARD', KEYS[1])
local used = tonumber(redis.call('GET', KEYS[8]) or '0')
local npar = redis.call('ZCARD', KEYS[4])
local reserved = tonumber(redis.call('GET', KEYS[9]) or '0')
local spent = tonumber(redis.call('GET', KEYS[7]))
local oreq, otok = oldest(KEYS[1]), oldest(KEYS[2])

local requests = triples(ARGV[11])
local out, any_admitted = {}, false
for i = 1, #requests, 3 do
  local ticket, tokens, cost = requests[i], tonumber(requests[i + 1]), tonumber(requests[i + 2])
  local refused, retry = '', -1
  if rpm >= 0 and nreq >= rpm then
    refused = 'rpm'
    retry = oreq and math.max(oreq + window - now, 0.001) or 1
  elseif tpm >= 0 and not (used + tokens <= tpm or (used == 0 and tpm > 0)) then
    refused = 'tpm'
    retry = otok and math.max(otok + window - now, 0.001) or 1
  elseif maxpar >= 0 and npar >= maxpar then
    refused, retry = 'max_parallel', 1
  elseif budget >= 0 and not (spent + reserved + cost <= budget or (reserved == 0 and spent < budget)) then
    refused = 'budget'
  end
  if refused == '' then
    redis.call('ZADD', KEYS[1], now, ticket)
    redis.call('ZADD', KEYS[2], now, ticket)
    redis.call('HSET', KEYS[3], ticket, requests[i + 1])
    redis.call('ZADD', KEYS[4], now + lease, ticket)
    redis.call('ZADD', KEYS[5], now + lease, ticket)
    redis.call('HSET', KEYS[6], ticket, requests[i + 2])
    redis.call('INCRBY', KEYS[8], requests[i + 1])
    redis.call('INCRBY', KEYS[9], requests[i + 2])
    nreq, used, npar, reserved = nreq + 1, used + tokens, npar + 1, reserved + cost
    any_admitted = true
    oreq, otok = oreq or now, otok or now
  end
  local n = #out
  out[n + 1], out[n + 2], out[n + 3], out[n + 4] = refused, tostring(retry), nreq, used
  out[n + 5] = tostring(oreq and (oreq + window - now) or window)
  out[n + 6] = tostring(otok and (otok + window - now) or window)
  out[n + 7], out[n + 8] = spent, reserved
end
if any_admitted then
  local ttl = math.ceil(math.max(window, lease)) + 1
  for _, i in ipairs({1, 2, 3, 4, 5, 6, 8, 9}) do redis.call('EXPIRE', KEYS[i], ttl) end
end
return out
"""

# ARGV: settlements (triples). For a key none of whose requests is being admitted in the same batch.
SETTLE = _COMMON + """
settle(triples(ARGV[1]))
return 1
"""
