-- Give a room's lease back, recording its final outcome, fenced by the lease's value.
-- KEYS: 1 the room's lease, 2 the run's ledger, 3 its counts (status -> rooms), 4 the overlap
--       ledger "-", 5 its counts (4 and 5 the same keys as 2 and 3 for a run without --ledger)
-- ARGV: 1 the lease's value as claimed ("TOKEN RUNNER"), 2 room id,
--       3 the final status ("" when the outcome is not final), 4 the run's ledger's TTL (ms),
--       5 the overlap ledger's TTL (ms)
-- Returns 1 released, 2 no lease any more (it expired; nobody took it), 0 another run holds it.
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  return 0 -- lost: the room is another run's now; its outcome is that run's to record
end
if held then
  redis.call('DEL', KEYS[1])
end
local function record(ledger, counts, entry, ttl)
  local old = redis.call('HGET', ledger, ARGV[2])
  local old_status = old and string.match(old, '^(%S+)')
  redis.call('HSET', ledger, ARGV[2], entry)
  if old_status ~= ARGV[3] then
    if old_status and redis.call('HINCRBY', counts, old_status, -1) <= 0 then
      redis.call('HDEL', counts, old_status)
    end
    redis.call('HINCRBY', counts, ARGV[3], 1)
  end
  redis.call('PEXPIRE', ledger, ttl)
  redis.call('PEXPIRE', counts, ttl)
end
if ARGV[3] ~= '' then
  local now = redis.call('TIME')
  local entry = ARGV[3] .. ' ' .. now[1] .. string.format('%06d', tonumber(now[2]))
  record(KEYS[2], KEYS[3], entry, ARGV[4])
  if KEYS[4] ~= KEYS[2] then
    record(KEYS[4], KEYS[5], entry, ARGV[5])
  end
end
if held then
  return 1
end
return 2
