"""The pipeline's Lua scripts.

Each runs atomically on the Redis side and touches the keys of one partition
(one hash tag, so one cluster slot) or the pipeline's own ``{pipeline}`` keys.
Every script that reads or acknowledges a stream first checks the partition's
lease, so a worker that lost its lease is fenced off by Redis itself, whatever
its own clock believes (see bot/pipeline/worker.py).
"""

# Everything the partition thread reads comes from here, fenced by the lease.
# The first entry of a batch is begun here too (BEGIN's count, below): the thread
# starts its handler next, and most batches hold one entry, so this saves a round
# trip per event. Should the thread stop before starting it, that entry carries
# one count too many, which only brings its dead letter one attempt sooner.
FETCH = """
-- KEYS[1] stream, KEYS[2] lease, KEYS[3] attempts
-- ARGV[1] me, ARGV[2] group, ARGV[3] count, ARGV[4] claim min idle ms, ARGV[5] tidy consumers,
-- ARGV[6] attempts ttl ms
local stream, me, group = KEYS[1], ARGV[1], ARGV[2]
if redis.call('GET', KEYS[2]) ~= me then
  return {'LOST'}
end
local function foreign_pending()
  local summary = redis.call('XPENDING', stream, group)
  if summary[4] then
    for _, c in ipairs(summary[4]) do
      if c[1] ~= me then return true end
    end
  end
  return false
end
if foreign_pending() then
  -- Take over what earlier lease holders read but did not acknowledge.
  local cursor = '0-0'
  repeat
    cursor = redis.call('XAUTOCLAIM', stream, group, me, ARGV[4], cursor, 'COUNT', 100, 'JUSTID')[1]
  until cursor == '0-0'
  -- Some are not idle long enough yet: they are older than anything new, so wait.
  if foreign_pending() then return {'WAIT'} end
end
if ARGV[5] == '1' then
  -- Forget consumers of earlier workers once nothing is pending for them.
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', stream, group)) do
    local name, pending
    for i = 1, #c, 2 do
      if c[i] == 'name' then name = c[i + 1] elseif c[i] == 'pending' then pending = c[i + 1] end
    end
    if name ~= me and pending == 0 then
      redis.call('XGROUP', 'DELCONSUMER', stream, group, name)
    end
  end
end
-- Redis answers {{stream, entries}} (or false when nothing is new); fakeredis, the
-- newcomer's embedded store, answers {stream, entries} for a single stream.
local function entries_of(reply)
  if not reply or not reply[1] then return {} end
  if type(reply[1]) == 'table' then return reply[1][2] or {} end
  return reply[2] or {}
end
local function begun(status, entries)
  local id = entries[1][1]
  local n = redis.call('HINCRBY', KEYS[3], id, 1)
  local t = tonumber(redis.call('HGET', KEYS[3], id .. ':t') or '0')
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
  return {status, entries, n, t}
end
local own = entries_of(redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', ARGV[3], 'STREAMS', stream, '0'))
if #own > 0 then
  return begun('OWN', own)
end
local new = entries_of(redis.call('XREADGROUP', 'GROUP', group, me, 'COUNT', ARGV[3], 'STREAMS', stream, '>'))
if #new > 0 then
  return begun('NEW', new)
end
-- Nothing to do: tell the caller from which id to wait for new entries.
for _, g in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local name, last
  for i = 1, #g, 2 do
    if g[i] == 'name' then name = g[i + 1] elseif g[i] == 'last-delivered-id' then last = g[i + 1] end
  end
  if name == group then return {'EMPTY', last} end
end
return {'EMPTY', '0-0'}
"""

# Right before the handler: the lease is still ours, and count the attempt.
# Field <entry id> counts starts of the handler, <entry id>:t its transient failures.
BEGIN = """
-- KEYS[1] lease, KEYS[2] attempts ; ARGV[1] me, ARGV[2] entry id, ARGV[3] attempts ttl ms
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return {-1, 0}
end
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
local t = tonumber(redis.call('HGET', KEYS[2], ARGV[2] .. ':t') or '0')
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return {n, t}
"""

ACK = """
-- KEYS[1] stream, KEYS[2] lease, KEYS[3] attempts ; ARGV[1] me, ARGV[2] group, ARGV[3] entry id
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
local acked = redis.call('XACK', KEYS[1], ARGV[2], ARGV[3])
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3], ARGV[3] .. ':t')
if acked == 1 then return 1 end
return 2
"""

DEAD_LETTER = """
-- KEYS[1] stream, KEYS[2] lease, KEYS[3] attempts, KEYS[4] dead letters
-- ARGV[1] me, ARGV[2] group, ARGV[3] entry id, ARGV[4] maxlen, ARGV[5] ttl ms, ARGV[6..] fields
if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return 0
end
local kind = redis.call('TYPE', KEYS[4])['ok']
if kind ~= 'none' and kind ~= 'stream' then
  return redis.error_reply('WRONGTYPE dead-letter key is a ' .. kind)
end
-- XACK first: if the entry is no longer pending (this script ran already, e.g. a
-- client-side retry after a lost reply), do not write a second dead letter.
if redis.call('XACK', KEYS[1], ARGV[2], ARGV[3]) == 1 then
  local fields = {}
  for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[4], '*', unpack(fields))
  redis.call('PEXPIRE', KEYS[4], ARGV[5])
end
redis.call('XDEL', KEYS[1], ARGV[3])
redis.call('HDEL', KEYS[3], ARGV[3], ARGV[3] .. ':t')
return 1
"""

RENEW = """
-- KEYS[1] lease ; ARGV[1] me, ARGV[2] lease ms
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

RELEASE = """
-- KEYS[1] lease ; ARGV[1] me
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# Heartbeat on Redis' clock, so workers on hosts with skewed clocks agree on who is live.
HEARTBEAT = """
-- KEYS[1] workers zset ; ARGV[1] me, ARGV[2] ttl ms
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2]))
return redis.call('ZCARD', KEYS[1])
"""
