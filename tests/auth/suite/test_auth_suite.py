"""Manifests, uploads, blobs, tags and referrers with auth on: the HTTP suite's own tests."""

from tests.http.test_blobs import *  # noqa: F403
from tests.http.test_manifests import *  # noqa: F403
from tests.http.test_referrers import *  # noqa: F403
from tests.http.test_tags import *  # noqa: F403
from tests.http.test_uploads import *  # noqa: F403
