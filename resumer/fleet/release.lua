-- Give a room's lease back, recording its final outcome, fenced by the lease's value.
-- KEYS: 1 the room's lease, 2 the ledger, 3 the ledger's counts (status -> rooms)
-- ARGV: 1 the lease's value as claimed ("TOKEN RUNNER"), 2 room id,
--       3 the final status ("" when the outcome is not final), 4 the ledger's TTL (ms)
-- Returns 1 released, 2 no lease any more (it expired; nobody took it), 0 another run holds it.
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  return 0 -- lost: the room is another run's now; its outcome is that run's to record
end
if held then
  redis.call('DEL', KEYS[1])
end
if ARGV[3] ~= '' then
  local now = redis.call('TIME')
  local entry = ARGV[3] .. ' ' .. now[1] .. string.format('%06d', tonumber(now[2]))
  local old = redis.call('HGET', KEYS[2], ARGV[2])
  local old_status = old and string.match(old, '^(%S+)')
  redis.call('HSET', KEYS[2], ARGV[2], entry)
  if old_status ~= ARGV[3] then
    if old_status and redis.call('HINCRBY', KEYS[3], old_status, -1) <= 0 then
      redis.call('HDEL', KEYS[3], old_status)
    end
    redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  end
  redis.call('PEXPIRE', KEYS[2], ARGV[4])
  redis.call('PEXPIRE', KEYS[3], ARGV[4])
end
if held then
  return 1
end
return 2
