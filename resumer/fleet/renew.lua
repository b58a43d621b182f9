-- Renew the leases one run holds on one app's rooms, each only while no other run holds it.
-- KEYS: the leases; ARGV: 1 lease TTL (ms), then each lease's value as claimed, in KEYS order
-- A lease gone (it expired while Redis or this run stalled past its TTL, or Redis restarted
-- empty) is taken again: this run is on the room and sends it whatever happens here, so a
-- run that claimed it next would send it a second time.
-- Returns the 1-based positions of the leases lost (another run's now).
local lost = {}
for i, key in ipairs(KEYS) do
  local held = redis.call('GET', key)
  if held == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  elseif not held then
    redis.call('SET', key, ARGV[i + 1], 'PX', ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost
