"""resumer: resume the mixed-stream task of every affected TUILiveKit room, at the API's budget."""

__version__ = "0.1.0"
