-- Give leases of one app back, recording final outcomes, each fenced by the lease's value (see
-- claims.py). A chunk, not a script: release.lua and reserve.lua begin with it.
--
-- give_back(k, a, stamp):
--   KEYS[k .. k+3]: the run's ledger, its counts (status -> rooms), the overlap ledger "-" and
--   its counts (the same keys as the first two for a run without --ledger); KEYS[k+4 ..]: the
--   leases, to the end of KEYS
--   ARGV[a], ARGV[a+1]: the run's ledger's TTL and the overlap ledger's (ms); then for each
--   lease, in KEYS order: its value as claimed ("TOKEN RUNNER"), the room id, the final status
--   ("" when the outcome is not final)
--   stamp: the entries' time, Unix µs, as a string
-- Returns for each lease: 1 released, 2 no lease any more (it expired and nobody took the room:
-- the outcome is recorded all the same), 0 another run holds it (it is that run's to record).
local function give_back(k, a, stamp)
  local ledger, counts, overlap, overlap_counts = KEYS[k], KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local function record(hash, tally, room, status)
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
  local answers, recorded = {}, false
  for i = k + 4, #KEYS do
    local j = a + 2 + 3 * (i - k - 4)
    local value, room, status = ARGV[j], ARGV[j + 1], ARGV[j + 2]
    local held = redis.call('GET', KEYS[i])
    if held and held ~= value then
      answers[#answers + 1] = 0
    else
      if held then
        redis.call('DEL', KEYS[i])
      end
      if status ~= '' then
        record(ledger, counts, room, status)
        if overlap ~= ledger then
          record(overlap, overlap_counts, room, status)
        end
        recorded = true
      end
      answers[#answers + 1] = held and 1 or 2
    end
  end
  if recorded then
    -- Redis 7.0 cannot expire one field: a ledger lives its TTL after its last write.
    redis.call('PEXPIRE', ledger, ARGV[a])
    redis.call('PEXPIRE', counts, ARGV[a])
    if overlap ~= ledger then
      redis.call('PEXPIRE', overlap, ARGV[a + 1])
      redis.call('PEXPIRE', overlap_counts, ARGV[a + 1])
    end
  end
  return answers
end
