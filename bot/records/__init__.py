"""Consultation records (記録簿), their retention purge and the monthly report."""

from bot.records.book import Record, RecordBook

__all__ = ["Record", "RecordBook"]
