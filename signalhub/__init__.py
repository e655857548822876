"""signalhub: the wire types (`signalhub.v1`, generated), the domain rules both sides share
(`signalhub.domain`) and the `signalhub` command dispatcher (`signalhub.cli`).

The server (`exchange`) and the member SDK (`client_sdk`) both import this package and never
each other.
"""

__version__ = "0.1.0"
