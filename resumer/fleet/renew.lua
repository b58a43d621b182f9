-- Renew the leases one run holds on one app's rooms, each only while no other run holds it.
-- KEYS: 1 the run's ledger, 2 the overlap ledger "-" (the same key for a run without --ledger),
--       then the leases
-- ARGV: 1 lease TTL (ms), 2 honour overlap-ledger entries written at or after this Redis time
--       (µs), 3 "1" if KEYS[1] is a named ledger (honoured whole), then for each lease, in KEYS
--       order, its value as claimed and its room id
-- A lease gone (it expired while Redis or this run stalled past its TTL) is taken again only if
-- no ledger says the room is final: this run is on the room, but another run may have claimed,
-- sent and finished it meanwhile, and then it is not this run's to send any more.
-- Returns the 1-based positions of the leases lost (another run's now, or final meanwhile).
local function final_since(ledger, room, since)
  local entry = redis.call('HGET', ledger, room)
  if not entry then
    return false
  end
  local at = tonumber(string.match(entry, ' (%d+)$'))
  return since == nil or (at ~= nil and at >= since)
end
local since = tonumber(ARGV[2])
local lost = {}
for i = 3, #KEYS do
  local value, room = ARGV[2 * i - 2], ARGV[2 * i - 1]
  local held = redis.call('GET', KEYS[i])
  if held == value then
    redis.call('PEXPIRE', KEYS[i], ARGV[1])
  elseif not held and not ((ARGV[3] == '1' and final_since(KEYS[1], room, nil))
      or final_since(KEYS[2], room, since)) then
    redis.call('SET', KEYS[i], value, 'PX', ARGV[1])
  else
    lost[#lost + 1] = i - 2
  end
end
return lost
