"""Lua scripts of the handoff queue (bot.handoff.queue).

Every change that reads a handoff's status and then changes it (open's merge, claim,
transfer, requeue, return to the bot, close, raise_priority, ...) runs as one script,
so Redis executes the check and the change with nothing in between: two counsellors
clicking 'take' at once are serialised by Redis and the second one sees the first's
claim. All queue keys share the hash tag ``{handoff}`` (bot.storage.keys), so a
script may touch all of them on a cluster too. A chat's transcript and images have
a slot of their own (``{hx:<id>}``) and no script touches them: their entries are
pushed beside the scripts, in an order that never shows a reader a version whose
entry is not there yet.

Scripts never build key names: every key comes in KEYS, built by KeyBuilder in
Python. Time comes in ARGV from the queue's injected clock (not Redis TIME), so tests
can fix it. A field that is None in Python is absent from the hash.

Every script that changes something INCRs the version key, so the console can poll
one counter instead of the queue.
"""

from __future__ import annotations

# Most urgent first, then oldest: (3 - rank) * 10**13 + queued_at in ms. 10**13 ms is
# ~300 years, so the waiting time can never outweigh a severity step; the largest
# score (~3.2e13) stays far below 2**53, exact in Lua's doubles and Redis' scores.
SCORE_STEP = 10**13


def prelude(severity_rank: dict[str | None, int]) -> str:
    """Lua helpers shared by the scripts; the rank table comes from SEVERITY_RANK so
    Python and Lua cannot disagree about what 'more urgent' means."""
    ranks = ", ".join(f"[{name!r}] = {rank}" for name, rank in severity_rank.items() if name)
    return f"""
local RANK = {{{ranks}}}
local function rank(sev) return RANK[sev or ''] or 0 end
-- string.format('%d') so the score reaches ZADD as an exact integer string.
local function score(sev, queued_at)
  return string.format('%d', (3 - rank(sev)) * {SCORE_STEP} + math.floor(tonumber(queued_at) * 1000))
end
-- What the caller rebuilds its Handoff from, read in the same script as the change:
-- {{0-based rank in the waiting set or -1, field, value, field, value, ...}}.
local function snapshot(doc, waiting, hid)
  local out = {{redis.call('ZRANK', waiting, hid) or -1}}
  for _, v in ipairs(redis.call('HGETALL', doc)) do table.insert(out, v) end
  return out
end
local function with(head, snap)
  for _, v in ipairs(snap) do table.insert(head, v) end
  return head
end
-- Union of the stored JSON list of reasons with the new ones, in first-seen order.
-- Encoded only when something was added, so the list is never empty there (cjson
-- would write an empty table as an object).
local function union_reasons(doc, new)
  local list = cjson.decode(redis.call('HGET', doc, 'reasons') or '[]')
  local seen = {{}}
  for _, r in ipairs(list) do seen[r] = true end
  local added = false
  for _, r in ipairs(new) do
    if not seen[r] then
      table.insert(list, r)
      seen[r] = true
      added = true
    end
  end
  if added then redis.call('HSET', doc, 'reasons', cjson.encode(list)) end
  return added
end
-- Who took, was handed or closed the chat (a JSON list in first-seen order): the read
-- policy lets them read it once it is closed. 'system' (the bot's own moves) is nobody.
local function add_handler(doc, name)
  if name == nil or name == '' or name == 'system' then return end
  local list = cjson.decode(redis.call('HGET', doc, 'handlers') or '[]')
  for _, n in ipairs(list) do
    if n == name then return end
  end
  table.insert(list, name)
  redis.call('HSET', doc, 'handlers', cjson.encode(list))
end
"""


# KEYS: 1 by_user, 2 waiting, 3 version, 4 new doc, 5 doc of the expected open handoff
#       (= 4 when none is expected), 6 history (pseudonym -> ids of all its handoffs)
# ARGV: 1 user pseudonym, 2 expected open handoff id ('' = none), 3 new id, 4 now,
#       5 severity, 6 category, 7 role, 8 level, 9 identity, 10 urgent ('1'/'0'),
#       11 number of reasons n, 12..11+n reasons, then field/value pairs of the new doc.
# The caller read by_user first and passes what it saw: if by_user changed since, the
# script answers {'retry'} and the caller reads again, so the doc key of an existing
# handoff is always built by KeyBuilder, never here.
OPEN = """
local user, expected, new_id, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local sev, category, role, level, identity, urgent = ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9], ARGV[10]
local n = tonumber(ARGV[11])
local reasons = {}
for i = 12, 11 + n do table.insert(reasons, ARGV[i]) end
local cur = redis.call('HGET', KEYS[1], user)
if (cur or '') ~= expected then return {'retry'} end
if cur then
  local doc = KEYS[5]
  local f = redis.call('HMGET', doc, 'status', 'severity', 'queued_at', 'urgent')
  local status = f[1]
  if status == 'waiting' or status == 'claimed' then
    local changed = false
    local rose = rank(sev) > rank(f[2])
    if rose then
      -- A more urgent signal while the chat waits or is with a counsellor: it moves up
      -- (keeping its queued_at, so it stays ahead of equally urgent later chats) and the
      -- console is alerted. The crisis category replaces a softer one.
      redis.call('HSET', doc, 'severity', sev, 'alert', 'danger')
      if category ~= '' then redis.call('HSET', doc, 'category', category) end
      if status == 'waiting' then redis.call('ZADD', KEYS[2], score(sev, f[3]), cur) end
      changed = true
    end
    if union_reasons(doc, reasons) then
      changed = true
      -- A new kind of danger at the same severity (extortion after self-harm, say)
      -- is news for the counsellor too, as in RAISE.
      if urgent == '1' then redis.call('HSET', doc, 'alert', 'danger') end
    end
    if urgent == '1' and f[4] ~= '1' then
      redis.call('HSET', doc, 'urgent', '1')
      changed = true
    end
    -- Fill what the first open did not know (a teacher's identity given later, ...);
    -- never overwrite what the counsellor may already be reading.
    local fill = {category = category, role = role, level = level, identity = identity}
    for field, value in pairs(fill) do
      if value ~= '' and redis.call('HSETNX', doc, field, value) == 1 then changed = true end
    end
    if changed then redis.call('INCR', KEYS[3]) end
    -- The user is still there: the chat is not left open (expire).
    redis.call('HSET', doc, 'touched_at', now)
    return with({rose and 'raised' or 'merged', cur}, snapshot(doc, KEYS[2], cur))
  end
  -- A stale index entry (its handoff is final or gone): fall through to a new one.
end
local fields = {}
for i = 12 + n, #ARGV do table.insert(fields, ARGV[i]) end
redis.call('HSET', KEYS[4], unpack(fields))
redis.call('ZADD', KEYS[2], score(sev, now), new_id)
redis.call('HSET', KEYS[1], user, new_id)
local before = redis.call('HGET', KEYS[6], user)
redis.call('HSET', KEYS[6], user, before and (before .. ' ' .. new_id) or new_id)
redis.call('INCR', KEYS[3])
return with({'created', new_id}, snapshot(KEYS[4], KEYS[2], new_id))
"""

# KEYS: 1 doc, 2 waiting, 3 claimed, 4 closed, 5 by_user, 6 version, 7 follow-ups
# ARGV: 1 op (claim|transfer|requeue|bot|close|expire), 2 id, 3 actor, 4 target of a transfer,
#       5 force ('1' = a supervisor acting on someone else's chat), 6 now, 7 now in ms,
#       8 record (JSON),
#       9 expire only: the cut-off (epoch seconds); the chat goes only if nothing
#       happened in it since before then (checked here, so a message that just arrived keeps it),
#       10 close only: when the record's follow-up is due (epoch seconds; '' = none asked for)
# Answers {reason, holder ('' = nobody), snapshot...}; reason as in ClaimResult, or
# 'fresh' when an expire found the chat still in use, or 'same' when it was so
# already (a second click: ok, and nothing happened). The transition's transcript
# entry is pushed by the caller after an 'ok' (its slot is the chat's).
TRANSITION = """
local doc, waiting, claimed, closed = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local by_user, version = KEYS[5], KEYS[6]
local op, hid, actor, target = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local force, now, now_ms = ARGV[5] == '1', ARGV[6], ARGV[7]
local f = redis.call('HMGET', doc, 'status', 'claimed_by', 'user', 'severity', 'queued_at', 'alert')
local status, holder, user, sev, queued_at, alert = f[1], f[2] or '', f[3], f[4], f[5], f[6]
local function answer(reason, who) return with({reason, who}, snapshot(doc, waiting, hid)) end
if not status then return {'missing', ''} end
if status ~= 'waiting' and status ~= 'claimed' then return answer('closed', '') end

-- An idle alert is about the previous holder; a danger alert stays until someone clears it.
local function clear_idle()
  if alert == 'idle' then redis.call('HDEL', doc, 'alert') end
end

if op == 'expire' then
  -- A chat left open: back to the bot like the system's other endings (forced).
  local touched = tonumber(redis.call('HGET', doc, 'touched_at') or '0') or 0
  if math.max(tonumber(queued_at) or 0, touched) >= tonumber(ARGV[9]) then return answer('fresh', holder) end
  op, force = 'bot', true
end

if op == 'claim' then
  if status == 'claimed' then
    -- A double click by the holder is not a conflict; anyone else is told who has it.
    if holder == actor then return answer('same', holder) end
    return answer('taken', holder)
  end
  redis.call('ZREM', waiting, hid)
  redis.call('ZADD', claimed, now_ms, hid)
  redis.call('HSET', doc, 'status', 'claimed', 'claimed_by', actor, 'claimed_at', now, 'last_activity', now)
  -- Out of the line: if it comes back (requeue), the user is told their place anew.
  redis.call('HDEL', doc, 'notified_position')
  clear_idle()
  add_handler(doc, actor)
  holder = actor
elseif op == 'requeue' and status == 'waiting' then
  -- Already back in the queue (a second click): nothing to do.
  return answer('same', '')
else
  -- The other moves belong to the holder; a supervisor may force them, also on a
  -- waiting chat (assign it, take it off the queue).
  if status == 'waiting' and not force then return answer('not_holder', '') end
  if status == 'claimed' and holder ~= actor and not force then return answer('not_holder', holder) end
  if op == 'transfer' then
    redis.call('ZREM', waiting, hid)
    redis.call('ZADD', claimed, now_ms, hid)
    redis.call('HSET', doc, 'status', 'claimed', 'claimed_by', target, 'last_activity', now)
    redis.call('HSETNX', doc, 'claimed_at', now)
    redis.call('HDEL', doc, 'notified_position')
    clear_idle()
    add_handler(doc, target)
    holder = target
  elseif op == 'requeue' then
    -- Back with its original queued_at: the chat gets its old place, not the end.
    redis.call('ZREM', claimed, hid)
    redis.call('ZADD', waiting, score(sev, queued_at), hid)
    redis.call('HSET', doc, 'status', 'waiting')
    redis.call('HDEL', doc, 'claimed_by', 'claimed_at', 'last_activity')
    clear_idle()
    holder = ''
  elseif op == 'close' or op == 'bot' then
    redis.call('ZREM', waiting, hid)
    redis.call('ZREM', claimed, hid)
    redis.call('ZADD', closed, now_ms, hid)
    local final = op == 'close' and 'closed' or 'bot'
    redis.call('HSET', doc, 'status', final, 'closed_at', now, 'closed_by', actor)
    if op == 'close' then
      redis.call('HSET', doc, 'record', ARGV[8])
      if ARGV[10] ~= '' then redis.call('ZADD', KEYS[7], ARGV[10], hid) end
    end
    redis.call('HDEL', doc, 'alert')
    add_handler(doc, actor)
    -- Leave the user index only if it still points here, so the user's next open()
    -- starts a new handoff.
    if user and redis.call('HGET', by_user, user) == hid then redis.call('HDEL', by_user, user) end
    holder = ''
  else
    return redis.error_reply('unknown handoff transition ' .. op)
  end
end
redis.call('HSET', doc, 'touched_at', now)
redis.call('INCR', version)
return answer('ok', holder)
"""

# A danger signal from crisis triage on an open chat: the chat becomes urgent, more
# urgent if the severity rose, and new evidence (a rise or a new reason) alerts.
# KEYS: 1 doc, 2 waiting, 3 version ; ARGV: 1 id, 2 severity ('' = none), 3 n, 4.. reasons
# Answers {rose (0/1), snapshot...}, or {0} when the handoff is not open.
RAISE = """
local doc, waiting = KEYS[1], KEYS[2]
local f = redis.call('HMGET', doc, 'status', 'severity', 'queued_at', 'urgent')
if f[1] ~= 'waiting' and f[1] ~= 'claimed' then return {0} end
local sev = ARGV[2]
local reasons = {}
for i = 4, 3 + tonumber(ARGV[3]) do table.insert(reasons, ARGV[i]) end
local rose = rank(sev) > rank(f[2])
if rose then
  redis.call('HSET', doc, 'severity', sev)
  if f[1] == 'waiting' then redis.call('ZADD', waiting, score(sev, f[3]), ARGV[1]) end
end
local added = union_reasons(doc, reasons)
if rose or added then redis.call('HSET', doc, 'alert', 'danger') end
if f[4] ~= '1' then redis.call('HSET', doc, 'urgent', '1') end
if rose or added or f[4] ~= '1' then redis.call('INCR', KEYS[3]) end
return with({rose and 1 or 0}, snapshot(doc, waiting, ARGV[1]))
"""

# Counsellor activity on a claimed chat: restarts its idle timer, clears an idle alert,
# and the first reply is stamped once.
# KEYS: 1 doc, 2 claimed, 3 version ; ARGV: 1 id, 2 now, 3 now ms, 4 reply ('1'/'0')
TOUCH = """
local f = redis.call('HMGET', KEYS[1], 'status', 'alert')
if f[1] ~= 'claimed' then return 0 end
redis.call('HSET', KEYS[1], 'last_activity', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
if f[2] == 'idle' then redis.call('HDEL', KEYS[1], 'alert') end
if ARGV[4] == '1' then redis.call('HSETNX', KEYS[1], 'first_reply_at', ARGV[2]) end
redis.call('INCR', KEYS[3])
return 1
"""

# Marks one claimed chat idle if it still is (the list was read before this ran).
# A danger alert is more important than idleness and is not replaced.
# KEYS: 1 doc, 2 claimed, 3 version ; ARGV: 1 id, 2 cutoff ms
MARK_IDLE = """
local at = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not at or tonumber(at) > tonumber(ARGV[2]) then return 0 end
if redis.call('HGET', KEYS[1], 'status') ~= 'claimed' then return 0 end
if redis.call('HSETNX', KEYS[1], 'alert', 'idle') == 1 then redis.call('INCR', KEYS[3]) end
return 1
"""

# The place in line the user was last told (bot.handoff.bridge), only while waiting.
# KEYS: 1 doc, 2 version ; ARGV: 1 position
SET_NOTIFIED = """
if redis.call('HGET', KEYS[1], 'status') ~= 'waiting' then return 0 end
redis.call('HSET', KEYS[1], 'notified_position', ARGV[1])
redis.call('INCR', KEYS[2])
return 1
"""

# KEYS: 1 doc, 2 version
CLEAR_ALERT = """
if redis.call('HDEL', KEYS[1], 'alert') == 1 then redis.call('INCR', KEYS[2]) end
return 1
"""

# A transcript entry was pushed (to the chat's own slot, bot.storage.keys): the
# handoff is touched, an optional field set with it (escalate: escalated=1), and the
# version bumped, after the entry so a console that sees the version sees the entry.
# 0 when the handoff does not exist (the caller takes the entry back).
# KEYS: 1 doc, 2 version ; ARGV: 1 field ('' = none), 2 value, 3 now (the chat is in use)
APPENDED = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if ARGV[1] ~= '' then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
redis.call('HSET', KEYS[1], 'touched_at', ARGV[3])
redis.call('INCR', KEYS[2])
return 1
"""

# The next image number of a handoff (1, 2, ...), 0 when the handoff does not exist.
# KEYS: 1 doc
NEXT_IMAGE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('HINCRBY', KEYS[1], 'images', 1)
"""


# A follow-up done: off the list, and who and when kept on the handoff (for good,
# like its record). KEYS: 1 follow-ups, 2 doc, 3 version ; ARGV: 1 id, 2 by, 3 now
# Answers 1, or 0 when it was not on the list (done already, or never asked for).
FOLLOW_UP_DONE = """
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], 'follow_up_done_by', ARGV[2], 'follow_up_done_at', ARGV[3])
redis.call('INCR', KEYS[3])
return 1
"""


# The history index filled in for handoffs opened before it existed, for one user:
# the ids found (in the order they were opened), then any the index has that were not
# found (opened since the scan started, so newer). KEYS: 1 history ; ARGV: 1 user, 2.. ids
HISTORY_BACKFILL = """
local seen, ids = {}, {}
for i = 2, #ARGV do
  if not seen[ARGV[i]] then seen[ARGV[i]] = true; table.insert(ids, ARGV[i]) end
end
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  for id in string.gmatch(current, '%S+') do
    if not seen[id] then seen[id] = true; table.insert(ids, id) end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(ids, ' '))
return #ids
"""


# A chat's evidence from where it was kept before it had a per-chat slot to where it
# is now, on a single server (the old keys were never on a cluster). KEYS: the old
# transcript, the new one, then old image, new image for each image. The old entries
# go before any the new transcript already has; an image already at its new key is
# left there. Answers 1 when something was moved.
MOVE_EVIDENCE = """
local moved = 0
local items = redis.call('LRANGE', KEYS[1], 0, -1)
for i = #items, 1, -1 do redis.call('LPUSH', KEYS[2], items[i]) end
if #items > 0 then moved = 1 end
redis.call('DEL', KEYS[1])
for i = 3, #KEYS, 2 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    if redis.call('EXISTS', KEYS[i + 1]) == 0 then redis.call('RENAME', KEYS[i], KEYS[i + 1])
    else redis.call('DEL', KEYS[i]) end
    moved = 1
  end
end
return moved
"""
