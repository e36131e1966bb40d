"""The Lua scripts that make each limits operation one atomic step inside Redis.

They apply `proxy.state.rules` exactly (the property tests hold them to the reference model). Floats
leave as strings (Redis truncates Lua numbers to integers). A `now` below zero means "use the Redis
server's clock", which replicas share, so their own clocks never skew a window.
"""

from __future__ import annotations

# KEYS: requests zset, tokens zset, tokens hash, in-flight zset, reservations zset, reservations hash, spent
# ARGV: now, window_s, ticket, tokens, cost, lease_s, spent seed, rpm, tpm, max_parallel, budget (-1: none),
#       spent ttl (s)
ADMIT = """
local function drop(zset, hash, upto)
  local old = redis.call('ZRANGEBYSCORE', zset, '-inf', upto)
  for i = 1, #old, 1000 do
    redis.call('HDEL', hash, unpack(old, i, math.min(i + 999, #old)))
  end
  redis.call('ZREMRANGEBYSCORE', zset, '-inf', upto)
end
local function sum(hash)
  local total = 0
  for _, v in ipairs(redis.call('HVALS', hash)) do total = total + tonumber(v) end
  return total
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
drop(KEYS[2], KEYS[3], start)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now)
drop(KEYS[5], KEYS[6], now)
redis.call('SET', KEYS[7], ARGV[7], 'NX', 'EX', ARGV[12])

local nreq = redis.call('ZCARD', KEYS[1])
local used = sum(KEYS[3])
local npar = redis.call('ZCARD', KEYS[4])
local reserved = sum(KEYS[6])
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
  redis.call('ZADD', KEYS[4], now + lease, ticket)
  redis.call('ZADD', KEYS[5], now + lease, ticket)
  redis.call('HSET', KEYS[6], ticket, cost)
  nreq, used, reserved = nreq + 1, used + tokens, reserved + cost
  local ttl = math.ceil(math.max(window, lease)) + 1
  for i = 1, 6 do redis.call('EXPIRE', KEYS[i], ttl) end
end
local oreq, otok = oldest(KEYS[1]), oldest(KEYS[2])
return {refused, tostring(retry), nreq, used, tostring(oreq and (oreq + window - now) or window),
        tostring(otok and (otok + window - now) or window), spent, reserved}
"""

# KEYS: tokens hash, in-flight zset, reservations zset, reservations hash, spent
# ARGV: ticket, true tokens, true cost
SETTLE = """
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
if redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('INCRBY', KEYS[5], ARGV[3])
end
return 1
"""
