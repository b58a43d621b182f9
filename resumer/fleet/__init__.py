"""Several runs, one budget: each app's budget, throttle state and rooms in flight on Redis.

    link.Link            the connection: calls that fail closed, probing while Redis is gone
    keys                 every key's name, hash-tagged per app (`resumer:{1400000001}:...`)
    budget.SharedPacer   an app's send slots from a GCRA in Redis (the `sharing.Budget`)
    claims.RoomClaims    leases on rooms in flight, and the ledger of final outcomes
    sharing.RedisSharing the `sharing.Sharing` of a run on Redis: the above, plus the heartbeat
    status              `resumer status`: what the runs on one Redis are doing

Imported only with `--redis` (redis-py is the optional extra `resumer[redis]`).
"""
