//! Self-tests of the interop test harness: the Node test server, the raw
//! client helper and the fault-injecting proxy. None of this uses the
//! library.

mod common;

use std::time::Duration;

use common::{
    ev, ev_id, split_sio, within, Proxy, RawClient, RawFrame, ServerOptions, TestServer, TIMEOUT,
};
use serde_json::{json, Value};

/// Completes the Socket.IO handshake for "/" and returns the connect reply
/// payload (`{"sid":...}`).
async fn join_root(c: &mut RawClient) -> Value {
    c.send("40").await;
    let reply = c.recv_text().await;
    assert!(
        reply.starts_with("40{\"sid\""),
        "unexpected connect reply {reply:?}"
    );
    serde_json::from_str(&reply[2..]).unwrap()
}

/// Receives the next Socket.IO event on "/", returning its data array.
async fn recv_event(c: &mut RawClient) -> Vec<Value> {
    let t = c.recv_text().await;
    let (ty, _, nsp, _, data) = split_sio(t.strip_prefix('4').expect("message packet"));
    assert_eq!((ty, nsp.as_str()), (2, "/"), "expected an event, got {t:?}");
    data.unwrap().as_array().unwrap().clone()
}

#[tokio::test]
async fn server_starts_prints_port_and_restarts_on_same_port() {
    let mut server = TestServer::start(ServerOptions::default()).await;
    let port = server.port();
    assert_ne!(port, 0);
    assert_eq!(server.url(), format!("http://127.0.0.1:{port}"));
    assert_eq!(
        server.url_for("/admin"),
        format!("http://127.0.0.1:{port}/admin")
    );
    tokio::net::TcpStream::connect(server.addr())
        .await
        .expect("server accepts TCP");

    // A graceful stop logs its shutdown; a new server can take the port.
    server.shutdown().await;
    server.wait_for(ev("shutdown"), TIMEOUT).await;
    let server2 = TestServer::start(ServerOptions::default().port(port)).await;
    assert_eq!(server2.port(), port);
    let (_c, open) = RawClient::connect_open(&server2.url()).await;
    assert!(open["sid"].is_string());
}

#[tokio::test]
async fn raw_websocket_handshake() {
    let server = TestServer::start(ServerOptions::default()).await;
    let mut c = RawClient::connect(&server.url()).await.unwrap();
    let open = c.recv_text().await;
    assert!(open.starts_with("0{\"sid\""), "open packet {open:?}");
    let open: Value = serde_json::from_str(&open[1..]).unwrap();
    assert_eq!(open["pingInterval"], 25000);
    assert_eq!(open["pingTimeout"], 20000);
    let engine = open["sid"].as_str().unwrap().to_owned();

    let reply = join_root(&mut c).await;
    let sid = reply["sid"].as_str().unwrap().to_owned();
    assert!(reply.get("pid").is_none(), "no pid without recovery");

    server
        .wait_for(
            |v| v["ev"] == "engine_connection" && v["engine"] == engine.as_str(),
            TIMEOUT,
        )
        .await;
    let conn = server
        .wait_for(ev_id("connection", sid.clone()), TIMEOUT)
        .await;
    assert_eq!(conn["nsp"], "/");
    assert_eq!(conn["engine"], engine.as_str());
    assert_eq!(conn["recovered"], false);
    assert_eq!(conn["auth"], json!({}));

    // A client-side close is seen by the server.
    c.send("41").await;
    let d = server.wait_for(ev_id("disconnect", sid), TIMEOUT).await;
    assert_eq!(d["reason"], "client namespace disconnect");
}

#[tokio::test]
async fn server_event_handlers() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (mut c, _) = RawClient::connect_open(&server.url()).await;
    c.send("40{\"client\":\"c1\"}").await;
    let sid = serde_json::from_str::<Value>(&c.recv_text().await[2..]).unwrap()["sid"]
        .as_str()
        .unwrap()
        .to_owned();

    // echo with an ack: an echo event, then the ack, both with all args.
    c.send(r#"421["echo",1,"two",{"three":3}]"#).await;
    assert_eq!(
        recv_event(&mut c).await,
        vec![json!("echo"), json!(1), json!("two"), json!({"three":3})]
    );
    assert_eq!(c.recv_text().await, r#"431[1,"two",{"three":3}]"#);

    // echo of a binary attachment.
    c.send(r#"451-["echo",{"_placeholder":true,"num":0}]"#)
        .await;
    c.send_binary(vec![1, 2, 3]).await;
    assert_eq!(
        c.recv_text().await,
        r#"451-["echo",{"_placeholder":true,"num":0}]"#
    );
    assert_eq!(c.recv_binary().await, vec![1, 2, 3]);

    c.send(r#"42["multi"]"#).await;
    assert_eq!(c.recv_text().await, r#"42["multi",1,"two",{"three":3}]"#);

    c.send(r#"427["whoami"]"#).await;
    let t = c.recv_text().await;
    let (_, _, _, ack, data) = split_sio(&t[1..]);
    assert_eq!(ack, Some(7));
    let who = &data.unwrap()[0];
    assert_eq!(who["id"], sid.as_str());
    assert_eq!(who["nsp"], "/");
    assert_eq!(who["auth"], json!({"client":"c1"}));
    assert_eq!(who["query"]["EIO"], "4");
    assert!(who["headers"]["host"].is_string());

    for n in [3, 1, 2] {
        c.send(&format!(r#"42["seq",{n}]"#)).await;
    }
    c.send(r#"422["seq-report"]"#).await;
    assert_eq!(c.recv_text().await, "432[[3,1,2]]");
    // The log is read asynchronously: wait rather than count.
    server
        .wait_for_nth(|v| v["ev"] == "seq" && v["client"] == "c1", 3, TIMEOUT)
        .await;

    // Server-to-client acks.
    c.send(r#"42["ask-ack",{"p":1}]"#).await;
    let t = c.recv_text().await;
    let (ty, _, _, ack, data) = split_sio(&t[1..]);
    assert_eq!((ty, data.unwrap()), (2, json!(["server-ack", {"p":1}])));
    c.send(&format!(r#"43{}["ok",2]"#, ack.unwrap())).await;
    assert_eq!(c.recv_text().await, r#"42["ack-confirmed",["ok",2]]"#);
    let logged = server.wait_for(ev("ack-confirmed"), TIMEOUT).await;
    assert_eq!(logged["reply"], json!(["ok", 2]));

    c.send(r#"42["stream-ack"]"#).await;
    let t = c.recv_text().await;
    let (_, _, _, ack, data) = split_sio(&t[1..]);
    assert_eq!(data.unwrap(), json!(["needs-ack", 1, "two"]));
    c.send(&format!(r#"43{}["fine"]"#, ack.unwrap())).await;
    assert_eq!(c.recv_text().await, r#"42["ack-confirmed",["fine"]]"#);

    c.send(r#"42["volatile",5]"#).await;
    assert_eq!(c.recv_text().await, r#"42["vol",5]"#);

    c.send(r#"429["never-ack",1]"#).await;
    server.wait_for(ev("never-ack"), TIMEOUT).await;

    c.send(r#"42["stream",{"count":11,"interval_ms":1,"binary":true,"name":"t"}]"#)
        .await;
    for n in 1..=11 {
        if n == 10 {
            assert_eq!(
                c.recv_text().await,
                r#"451-["t",10,{"_placeholder":true,"num":0}]"#
            );
            assert_eq!(c.recv_binary().await, vec![10]);
        } else {
            assert_eq!(c.recv_text().await, format!(r#"42["t",{n}]"#));
        }
    }
    server.wait_for(ev("stream-done"), TIMEOUT).await;

    // The /admin namespace on the same connection, and middleware refusal.
    c.send("40/admin,{\"reject\":true}").await;
    assert_eq!(
        c.recv_text().await,
        r#"44/admin,{"message":"rejected by middleware","data":{"code":42}}"#
    );
    server
        .wait_for(|v| v["ev"] == "rejected" && v["nsp"] == "/admin", TIMEOUT)
        .await;
    c.send("40/admin,").await;
    let t = c.recv_text().await;
    assert!(t.starts_with("40/admin,{\"sid\""), "{t:?}");
    c.send(r#"42/admin,["multi"]"#).await;
    assert_eq!(
        c.recv_text().await,
        r#"42/admin,["multi",1,"two",{"three":3}]"#
    );
    c.send("40/nope,").await;
    assert_eq!(
        c.recv_text().await,
        r#"44/nope,{"message":"Invalid namespace"}"#
    );

    // Server-side namespace disconnect.
    c.send(r#"42["disconnect-me"]"#).await;
    assert_eq!(c.recv_text().await, "41");
    let d = server.wait_for(ev_id("disconnect", sid), TIMEOUT).await;
    assert_eq!(d["reason"], "server namespace disconnect");

    // kill-engine closes the whole transport.
    c.send(r#"42/admin,["kill-engine"]"#).await;
    c.wait_closed(TIMEOUT).await;
    let d = server
        .wait_for(|v| v["ev"] == "disconnect" && v["nsp"] == "/admin", TIMEOUT)
        .await;
    assert_eq!(d["reason"], "forced close");
}

#[tokio::test]
async fn middleware_rejects_root_namespace() {
    let server = TestServer::start(ServerOptions::default()).await;
    let (mut c, _) = RawClient::connect_open(&server.url()).await;
    c.send("40{\"reject\":1}").await;
    assert_eq!(
        c.recv_text().await,
        r#"44{"message":"rejected by middleware","data":{"code":42}}"#
    );
    assert_eq!(server.count(ev("connection")), 0);
}

#[tokio::test]
async fn recovery_replays_stream_after_transport_loss() {
    let server = TestServer::start(ServerOptions::default().recovery()).await;
    let (mut c, _) = RawClient::connect_open(&server.url()).await;
    let reply = join_root(&mut c).await;
    let (sid, pid) = (reply["sid"].clone(), reply["pid"].clone());
    assert!(pid.is_string(), "pid with recovery: {reply}");

    c.send(r#"42["stream",{"count":12,"interval_ms":5,"binary":true}]"#)
        .await;
    let mut offset = String::new();
    for n in 1..=3 {
        let data = recv_event(&mut c).await;
        assert_eq!(&data[..2], &[json!("tick"), json!(n)]);
        offset = data[2].as_str().expect("offset appended").to_owned();
    }
    drop(c); // transport loss: the session is kept
    server
        .wait_for(|v| v["ev"] == "disconnect" && v["id"] == sid, TIMEOUT)
        .await;
    server.wait_for(ev("stream-done"), TIMEOUT).await;

    let (mut c, _) = RawClient::connect_open(&server.url()).await;
    c.send(&format!("40{}", json!({"pid": pid, "offset": offset})))
        .await;
    for n in 4..=12 {
        let t = c.recv_text().await;
        let (ty, att, _, _, data) = split_sio(&t[1..]);
        let data = data.unwrap();
        assert_eq!(
            &data.as_array().unwrap()[..2],
            &[json!("tick"), json!(n)],
            "{t}"
        );
        if n == 10 {
            assert_eq!((ty, att), (5, Some(1)));
            assert!(data[3].is_string(), "offset after the placeholder: {t}");
            assert_eq!(c.recv_binary().await, vec![10]);
        } else {
            assert_eq!(ty, 2);
            assert!(data[2].is_string(), "offset: {t}");
        }
    }
    let t = c.recv_text().await;
    let again: Value = serde_json::from_str(&t[2..]).unwrap();
    assert_eq!(
        (again["sid"].clone(), again["pid"].clone()),
        (sid.clone(), pid)
    );
    let conn = server
        .wait_for(
            |v| v["ev"] == "connection" && v["recovered"] == true,
            TIMEOUT,
        )
        .await;
    assert_eq!(conn["id"], sid);
}

#[tokio::test]
async fn proxy_forwards_drops_and_refuses() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    assert_eq!(proxy.url(), format!("http://{}", proxy.addr()));

    let (mut c, _) = RawClient::connect_open(&proxy.url()).await;
    let sid = join_root(&mut c).await["sid"].as_str().unwrap().to_owned();
    c.send(r#"42["multi"]"#).await;
    assert_eq!(c.recv_text().await, r#"42["multi",1,"two",{"three":3}]"#);
    assert_eq!(proxy.accepted(), 1);
    assert_eq!(proxy.active(), 1);

    proxy.drop_all();
    c.wait_closed(TIMEOUT).await;
    server.wait_for(ev_id("disconnect", sid), TIMEOUT).await;
    within(
        TIMEOUT,
        "proxy connection count to reach 0",
        proxy.wait_until(|p| p.active() == 0),
    )
    .await;

    proxy.set_refuse(true);
    assert!(
        RawClient::connect(&proxy.url()).await.is_err(),
        "refused connect must fail"
    );
    assert_eq!(proxy.accepted(), 2);
    assert_eq!(proxy.active(), 0);

    proxy.set_refuse(false);
    let (mut c, _) = RawClient::connect_open(&proxy.url()).await;
    join_root(&mut c).await;
    assert_eq!(proxy.accepted(), 3);
    let times = proxy.accepted_times();
    assert_eq!(times.len(), 3);
    assert!(times.windows(2).all(|w| w[0] <= w[1]));

    // A new target applies to new connections only.
    let server2 = TestServer::start(ServerOptions::default()).await;
    proxy.set_target(server2.addr());
    let (mut c2, _) = RawClient::connect_open(&proxy.url()).await;
    join_root(&mut c2).await;
    server2.wait_for(ev("connection"), TIMEOUT).await;
    c.send(r#"42["multi"]"#).await;
    assert_eq!(c.recv_text().await, r#"42["multi",1,"two",{"three":3}]"#);
    server.wait_for_nth(ev("connection"), 2, TIMEOUT).await;
    assert_eq!(server2.count(ev("connection")), 1);
}

#[tokio::test]
async fn proxy_blackhole_holds_bytes() {
    let server = TestServer::start(ServerOptions::default()).await;
    let proxy = Proxy::start(server.addr()).await;
    let (mut c, _) = RawClient::connect_open(&proxy.url()).await;
    join_root(&mut c).await;

    proxy.set_blackhole(true);
    c.send(r#"42["echo","held"]"#).await;
    // A new connection cannot even complete its WebSocket handshake.
    let pending = tokio::spawn({
        let url = proxy.url();
        async move { RawClient::connect_open(&url).await }
    });
    assert!(
        c.recv_timeout(Duration::from_millis(300)).await.is_none(),
        "nothing passes"
    );
    assert_eq!(server.count(ev("echo")), 0);
    assert!(!pending.is_finished());
    assert_eq!(proxy.active(), 2);

    proxy.set_blackhole(false);
    assert_eq!(c.recv_text().await, r#"42["echo","held"]"#);
    let (mut c2, _) = within(TIMEOUT, "held handshake", pending).await.unwrap();
    join_root(&mut c2).await;
}

#[tokio::test]
async fn silent_client_is_dropped_with_ping_timeout() {
    let server = TestServer::start(ServerOptions::default().ping(300, 200)).await;
    let (mut c, open) = RawClient::connect_open(&server.url()).await;
    assert_eq!(open["pingInterval"], 300);
    let sid = join_root(&mut c).await["sid"].as_str().unwrap().to_owned();
    // Stop reading, so no pong is ever sent.
    let d = server.wait_for(ev_id("disconnect", sid), TIMEOUT).await;
    assert_eq!(d["reason"], "ping timeout");
    // The first frame the client then reads is the unanswered ping.
    c.auto_pong = false;
    assert_eq!(c.recv_opt().await, Some(RawFrame::Text("2".into())));
}
