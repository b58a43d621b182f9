-- Give leases of one app back, recording final outcomes, each fenced by the lease's value (see
-- claims.py). A chunk, not a script: release.lua and reserve.lua begin with it, after ledger.lua.
--
-- give_back(k, a, stamp):
--   KEYS[k .. k+3]: the ledgers and their counts, as ledger.lua takes them; KEYS[k+4 ..]: the
--   leases, to the end of KEYS
--   ARGV[a], ARGV[a+1]: the run's ledger's TTL and the overlap ledger's (ms); then for each
--   lease, in KEYS order: its value as claimed ("TOKEN RUNNER"), the room id, the final status
--   ("" when the outcome is not final)
--   stamp: the entries' time, Unix µs, as a string
-- Returns for each lease: 1 released, 2 no lease any more (it expired and nobody took the room:
-- the outcome is recorded all the same), 0 another run holds it (it is that run's to record).
local function give_back(k, a, stamp)
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
        record(k, room, status, stamp)
        recorded = true
      end
      answers[#answers + 1] = held and 1 or 2
    end
  end
  if recorded then
    expire_ledgers(k, a)
  end
  return answers
end
