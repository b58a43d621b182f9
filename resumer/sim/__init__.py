"""A local simulator of TUILiveKit's `resume_mcu_task`, for tests, benchmarks and rehearsals.

Modules, bottom up:

    config    SimConfig, and the kinds of answer that faults, scripts and outages give
    window    the sliding window that enforces the budget and measures peaks
    replies   the envelope and the broken replies, as bytes
    stats     the counters, and the shape of their JSON
    model     SimModel: every decision, pure, driven by a clock passed in
    server    start_sim(config) -> RunningSim: the aiohttp server on loopback
    thread    SimThread(config): the server on its own loop in a background thread
    profiles  the named profiles, the demo apps and the TOML loader
    cli       `resumer sim`
"""
