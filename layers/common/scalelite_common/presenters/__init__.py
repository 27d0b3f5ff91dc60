"""Presenters: domain values rendered for one wire format each: `bbb_xml` (the BBB API's XML answers), `admin_json`
(the admin commands' and admin API's JSON objects)."""
