"""The geocoding engines, one concern per module: the BAN file reader and its cache (ban), the
street index (gazetteer), collection sectors (sectors, projection), matching a parsed address
(street_ranking, geocoder), searching a garbled transcript (street_search, hints), resolving
candidates and audio scores into one address (resolver), the territory reference the agent
validator checks against (reference), and the territory files (territory_file). The
activities that use them are declared in activities/geocode.py."""
