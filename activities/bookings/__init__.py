"""The booking engine: pickups and per-day places (SQLite embedded, PostgreSQL in production)
behind the booking activities of `activities/booking.py`.

- `store`: `BookingStore` (book, cancel, collected, capacity, audit trail) and its guarantees;
- `reservation`: one booking inside its write transaction; `places`: the per-day places;
  `audit`: the audit trail; `records`: what the store returns and how rows map to it;
- `schema`: the tables and `create_schema`; `engine`: `make_engine` (SQLite pragmas and write
  transactions, PostgreSQL pre-ping) and the advisory locks;
- `references`: booking references, the duplicate-address key, the actors of the audit trail;
- `calendar_file`: the YAML service calendar; `instants`: the dates an activity is given.
"""
