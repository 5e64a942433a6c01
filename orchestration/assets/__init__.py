"""Dagster assets by concern: extract (raw landing), dbt (staging -> marts), gate, publish."""
