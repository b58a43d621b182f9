-- Final outcomes in a run's ledgers (see claims.py). A chunk, not a script: giveback.lua and
-- republish.lua begin with it.
--
-- KEYS[k .. k+3]: the run's ledger (room -> "STATUS STAMP"), its counts (status -> rooms), the
-- overlap ledger "-" and its counts (the same keys as the first two for a run without --ledger).
-- record(k, room, status, stamp): the entry in both ledgers, the counts moved if the status
-- changed. expire_ledgers(k, a): ARGV[a] and ARGV[a+1] are the two ledgers' TTLs (ms); Redis 7.0
-- cannot expire one field of a hash, so a ledger lives its TTL after its last write.
local function record_in(hash, tally, room, status, stamp)
  local old = redis.call('HGET', hash, room)
  local old_status = old and string.match(old, '^(%S+)')
  redis.call('HSET', hash, room, status .. ' ' .. stamp)
  if old_status ~= status then
    if old_status and redis.call('HINCRBY', tally, old_status, -1) <= 0 then
      redis.call('HDEL', tally, old_status)
    end
    redis.call('HINCRBY', tally, status, 1)
  end
end
local function record(k, room, status, stamp)
  record_in(KEYS[k], KEYS[k + 1], room, status, stamp)
  if KEYS[k + 2] ~= KEYS[k] then
    record_in(KEYS[k + 2], KEYS[k + 3], room, status, stamp)
  end
end
local function expire_ledgers(k, a)
  redis.call('PEXPIRE', KEYS[k], ARGV[a])
  redis.call('PEXPIRE', KEYS[k + 1], ARGV[a])
  if KEYS[k + 2] ~= KEYS[k] then
    redis.call('PEXPIRE', KEYS[k + 2], ARGV[a + 1])
    redis.call('PEXPIRE', KEYS[k + 3], ARGV[a + 1])
  end
end

