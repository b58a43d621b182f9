-- Renew the leases one run holds on one app's rooms, each only while it is still that run's.
-- KEYS: the leases; ARGV: 1 lease TTL (ms), then each lease's value as claimed, in KEYS order
-- Returns the 1-based positions of the leases lost (expired, or another run's now).
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[i + 1] then
    redis.call('PEXPIRE', key, ARGV[1])
  else
    lost[#lost + 1] = i
  end
end
return lost
