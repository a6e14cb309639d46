"""The crews' route sheets: read from the booking store (`build`), written as CSV, printable
HTML and PDF (`render`), and the daily export activity (`export`). What a sheet holds and the
order of the round are domain/route_sheets.py's."""
