"""Tests of pathsleuth.maillog, one module per source module."""
