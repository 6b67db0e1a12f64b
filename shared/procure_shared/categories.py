"""The category code list that lots and accreditations share, so eligibility can compare them."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["OCDS_MAIN_PROCUREMENT_CATEGORY", "Category"]


class Category(StrEnum):
    ACADEMIC_MENTORING = "academic_mentoring"
    TUTOR_TRAINING = "tutor_training"
    TUITION_PARTNER_QA = "tuition_partner_qa"
    TUITION_DELIVERY = "tuition_delivery"
    ATTENDANCE_MENTORING = "attendance_mentoring"
    ATTENDANCE_HUB = "attendance_hub"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS: dict[Category, str] = {
    Category.ACADEMIC_MENTORING: "Academic mentoring",
    Category.TUTOR_TRAINING: "Tutor and mentor training",
    Category.TUITION_PARTNER_QA: "Tuition partner quality assurance",
    Category.TUITION_DELIVERY: "Tuition delivery",
    Category.ATTENDANCE_MENTORING: "Attendance mentoring",
    Category.ATTENDANCE_HUB: "Attendance hub",
    Category.OTHER: "Other",
}

# Every category is bought as services (OCDS mainProcurementCategory).
OCDS_MAIN_PROCUREMENT_CATEGORY = "services"
