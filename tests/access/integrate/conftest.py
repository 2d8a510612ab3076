"""The integration tests reuse the researcher's pages' site: the access world served by one app, a browser per
person (signed in by a session cookie, with the CSRF token its forms carry)."""

from tests.access.applicant.conftest import site  # noqa: F401  (the fixture)
