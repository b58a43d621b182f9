-- Record again, stamped now, rooms a results log holds final (a --resume: see republish.py),
-- as release.lua records one: the same entry, counts twin and TTLs.
-- KEYS: 1 the run's ledger, 2 its counts (status -> rooms), 3 the overlap ledger "-", 4 its
--       counts (3 and 4 the same keys as 1 and 2 for a run without --ledger)
-- ARGV: 1 the run's ledger's TTL (ms), 2 the overlap ledger's TTL (ms), then for each room its
--       id and its final status
-- Returns the number of rooms recorded.
local now = redis.call('TIME')
local at = ' ' .. now[1] .. string.format('%06d', tonumber(now[2]))
local function record(ledger, counts, room, status)
  local old = redis.call('HGET', ledger, room)
  local old_status = old and string.match(old, '^(%S+)')
  redis.call('HSET', ledger, room, status .. at)
  if old_status ~= status then
    if old_status and redis.call('HINCRBY', counts, old_status, -1) <= 0 then
      redis.call('HDEL', counts, old_status)
    end
    redis.call('HINCRBY', counts, status, 1)
  end
end
local rooms = 0
for i = 3, #ARGV - 1, 2 do
  record(KEYS[1], KEYS[2], ARGV[i], ARGV[i + 1])
  if KEYS[3] ~= KEYS[1] then
    record(KEYS[3], KEYS[4], ARGV[i], ARGV[i + 1])
  end
  rooms = rooms + 1
end
if rooms > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
  if KEYS[3] ~= KEYS[1] then
    redis.call('PEXPIRE', KEYS[3], ARGV[2])
    redis.call('PEXPIRE', KEYS[4], ARGV[2])
  end
end
return rooms
