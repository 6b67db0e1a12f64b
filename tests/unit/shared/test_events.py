from datetime import UTC, datetime

import msgspec
import pytest

from procure_shared.events import (
    Catalogue,
    Envelope,
    InvalidEventType,
    decode_envelope,
    encode_envelope,
    stream_for_type,
)


class MilestoneOverdue(msgspec.Struct, rename="camel"):
    milestone_id: str
    due_date: str


def test_an_envelope_round_trips_with_cloudevents_attribute_names() -> None:
    envelope = Envelope.new(
        service="contracts",
        type="contracts.milestone.overdue",
        subject="c-1",
        time=datetime(2022, 9, 1, tzinfo=UTC),
        sequence=3,
        data=MilestoneOverdue(milestone_id="m-1", due_date="2022-08-31"),
        buyer_id="dfe",
    )
    raw = encode_envelope(envelope)
    as_json = msgspec.json.decode(raw)
    assert as_json["specversion"] == "1.0"
    assert as_json["source"] == "/procure/contracts"
    assert as_json["procureversion"] == 1
    assert as_json["buyerid"] == "dfe"
    assert as_json["data"] == {"milestoneId": "m-1", "dueDate": "2022-08-31"}
    decoded = decode_envelope(raw)
    assert decoded.id == envelope.id
    assert decoded.decode_data(MilestoneOverdue) == MilestoneOverdue("m-1", "2022-08-31")


def test_shared_data_carries_no_buyer_attribute() -> None:
    envelope = Envelope.new(
        service="providers",
        type="providers.provider.registered",
        subject="p-1",
        time=datetime(2022, 9, 1, tzinfo=UTC),
        sequence=1,
        data={},
    )
    assert "buyerid" not in msgspec.json.decode(encode_envelope(envelope))


def test_a_malformed_envelope_does_not_decode() -> None:
    with pytest.raises(msgspec.ValidationError):
        decode_envelope(b'{"id": "x"}')
    with pytest.raises(msgspec.DecodeError):
        decode_envelope(b"not json")


def test_the_catalogue_refuses_badly_named_and_repeated_types() -> None:
    catalogue = Catalogue()
    catalogue.register("contracts.milestone.overdue", MilestoneOverdue, "A milestone fell due.")
    with pytest.raises(InvalidEventType):
        catalogue.register("contracts.milestone.overdue", MilestoneOverdue, "again")
    with pytest.raises(InvalidEventType):
        catalogue.register("contracts.MilestoneOverdue", MilestoneOverdue, "bad name")
    catalogue.register("contracts.milestone.overdue", MilestoneOverdue, "v2", version=2)
    assert [s.version for s in catalogue] == [1, 2]


def test_each_event_type_maps_to_its_producers_stream() -> None:
    assert stream_for_type("contracts.award.made").name == "CONTRACTS"
    assert stream_for_type("providers.exclusion.lifted").name == "PROVIDERS"
    with pytest.raises(LookupError):
        stream_for_type("rpc.providers.eligibility")
