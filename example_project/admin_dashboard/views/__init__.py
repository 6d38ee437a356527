"""The staff dashboard's views, one module per page of its navigation. Every view is
``staff_required``: a visitor is sent to log in, a signed-in customer gets the 403 page."""
