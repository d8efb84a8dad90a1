"""Tests of the GB/T 32960 EV wing (``v2xcloud.ev``)."""
