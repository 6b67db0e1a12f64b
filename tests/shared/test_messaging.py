from urllib.parse import urlsplit

from procure_shared.messaging.nats import NatsState, connect_nats
from tests.support.ports import free_port_run
from tests.support.servers import NatsHandle


async def test_a_nats_url_listing_several_servers_connects_to_one_that_answers(
    nats_handle: NatsHandle,
) -> None:
    nobody = f"nats://127.0.0.1:{free_port_run(1)}"
    for listed in (f"{nobody}, {nats_handle.url}", f"{nats_handle.url},{nobody}"):
        nc = await connect_nats(listed, NatsState(name="test-several"), nats_handle.access())
        try:
            assert nc.is_connected
            connected = nc.connected_url.port if nc.connected_url else None
            assert connected == urlsplit(nats_handle.url).port
        finally:
            await nc.close()
