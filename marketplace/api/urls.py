from . import earnings, market, money

urlpatterns = [
    *money.urlpatterns,
    *earnings.urlpatterns,
    *market.urlpatterns,
]
