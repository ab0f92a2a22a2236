#!/bin/sh
# Placeholder: end-to-end tests of the example servers are being written.
exit 77
