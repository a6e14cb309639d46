"""The SMS engine behind `activities/sms.py` and `activities/sms_inbox.py`.

- `render`: templates rendered strictly and fitted to as few segments as possible;
- `backends`: what a backend offers (protocols); `errors`: what it raises; two adapters,
  `outbox` (local files: demo, tests) and `ovh` (the OVH SMS API); `build`: the one the
  settings name;
- `sender` and `ledger`: sending exactly once whatever the retries;
- `phone_keys`: the secret of the phone keys by which a reply finds its case;
- `routing`: a caller's reply to the workflow waiting for it, or to an agent.
"""
