from rest_framework import pagination


class PageNumberPagination(pagination.PageNumberPagination):
    """`?page_size=` lets scripts pull up to 1000 rows a page instead of paging by 50."""

    page_size_query_param = "page_size"
    max_page_size = 1000
