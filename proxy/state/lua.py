"""The Lua scripts that make each limits operation one atomic step inside Redis.

They apply `proxy.state.rules` exactly (the property tests hold them to the reference model). Floats
leave as strings (Redis truncates Lua numbers to integers). A `now` below zero means "use the Redis
server's clock", which replicas share, so their own clocks never skew a window.
"""

from __future__ import annotations

# KEYS: requests zset, tokens zset, tokens hash, in-flight zset, reservations zset, reservations hash, spent,
#       tokens sum, reservations sum (running sums, so no step walks a whole window)
# ARGV: now, window_s, ticket, tokens, cost, lease_s, spent seed, rpm, tpm, max_parallel, budget (-1: none),
#       spent ttl (s)
ADMIT = """
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

local now = tonumber(ARGV[1])
if now < 0 then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local window, ticket = tonumber(ARGV[2]), ARGV[3]
local tokens, cost, lease = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local rpm, tpm, maxpar, budget = tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local start = now - window

redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', start)
drop(KEYS[2], KEYS[3], KEYS[8], start)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
drop(KEYS[5], KEYS[6], KEYS[9], now)
redis.call('SET', KEYS[7], ARGV[7], 'NX', 'EX', ARGV[12])

local nreq = redis.call('ZCARD', KEYS[1])
local used = tonumber(redis.call('GET', KEYS[8]) or '0')
local npar = redis.call('ZCARD', KEYS[4])
local reserved = tonumber(redis.call('GET', KEYS[9]) or '0')
local spent = tonumber(redis.call('GET', KEYS[7]))

local refused, retry = '', -1
if rpm >= 0 and nreq >= rpm then
  refused = 'rpm'
  local o = oldest(KEYS[1])
  retry = o and math.max(o + window - now, 0.001) or 1
elseif tpm >= 0 and not (used + tokens <= tpm or (used == 0 and tpm > 0)) then
  refused = 'tpm'
  local o = oldest(KEYS[2])
  retry = o and math.max(o + window - now, 0.001) or 1
elseif maxpar >= 0 and npar >= maxpar then
  refused, retry = 'max_parallel', 1
elseif budget >= 0 and not (spent + reserved + cost <= budget or (reserved == 0 and spent < budget)) then
  refused = 'budget'
end

if refused == '' then
  redis.call('ZADD', KEYS[1], now, ticket)
  redis.call('ZADD', KEYS[2], now, ticket)
  redis.call('HSET', KEYS[3], ticket, tokens)
  redis.call('INCRBY', KEYS[8], tokens)
  redis.call('ZADD', KEYS[4], now + lease, ticket)
  redis.call('ZADD', KEYS[5], now + lease, ticket)
  redis.call('HSET', KEYS[6], ticket, cost)
  redis.call('INCRBY', KEYS[9], cost)
  nreq, used, reserved = nreq + 1, used + tokens, reserved + cost
  local ttl = math.ceil(math.max(window, lease)) + 1
  for _, i in ipairs({1, 2, 3, 4, 5, 6, 8, 9}) do redis.call('EXPIRE', KEYS[i], ttl) end
end
local oreq, otok = oldest(KEYS[1]), oldest(KEYS[2])
return {refused, tostring(retry), nreq, used, tostring(oreq and (oreq + window - now) or window),
        tostring(otok and (otok + window - now) or window), spent, reserved}
"""

# KEYS: tokens hash, in-flight zset, reservations zset, reservations hash, spent, tokens sum, reservations sum
# ARGV: ticket, true tokens, true cost
SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[1])
local reserved = redis.call('HGET', KEYS[4], ARGV[1])
if reserved then
  redis.call('ZREM', KEYS[3], ARGV[1])
  redis.call('HDEL', KEYS[4], ARGV[1])
  redis.call('DECRBY', KEYS[7], reserved)
end
local estimate = redis.call('HGET', KEYS[1], ARGV[1])
if estimate then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
  redis.call('INCRBY', KEYS[6], tonumber(ARGV[2]) - tonumber(estimate))
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('INCRBY', KEYS[5], ARGV[3])
end
return 1
"""
