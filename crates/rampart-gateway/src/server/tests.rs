use std::sync::atomic::AtomicBool;

use axum::routing::get;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::*;

fn options(workers: usize) -> ServeOptions {
    ServeOptions { header_read_timeout: Duration::from_secs(5), shutdown_grace: Duration::from_secs(5), workers }
}

/// Starts `app` on a free port; the sender stops it.
async fn start(
    app: Router,
    workers: usize,
) -> (SocketAddr, oneshot::Sender<()>, tokio::task::JoinHandle<Result<Workers, std::io::Error>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, app, options(workers), async move {
        let _ = stopped.await;
    }));
    (address, stop, server)
}

/// One HTTP/1.1 GET on a kept-alive connection; the body.
async fn get_on(connection: &mut BufReader<TcpStream>, path: &str) -> String {
    connection.get_mut().write_all(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes()).await.unwrap();
    let mut length = 0;
    loop {
        let mut line = String::new();
        connection.read_line(&mut line).await.unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = value.trim().parse().unwrap();
        }
    }
    let mut body = vec![0; length];
    connection.read_exact(&mut body).await.unwrap();
    String::from_utf8(body).unwrap()
}

#[tokio::test]
async fn connections_are_spread_over_the_workers_and_a_connection_stays_on_its_worker() {
    let app =
        Router::new().route("/thread", get(|| async { std::thread::current().name().unwrap_or_default().to_owned() }));
    let (address, stop, server) = start(app, 2).await;
    let mut seen = Vec::new();
    let mut connections = Vec::new();
    for _ in 0..4 {
        let mut connection = BufReader::new(TcpStream::connect(address).await.unwrap());
        let first = get_on(&mut connection, "/thread").await;
        let second = get_on(&mut connection, "/thread").await;
        assert_eq!(first, second, "one connection, one worker");
        seen.push(first);
        connections.push(connection);
    }
    // Each new connection goes to the worker with fewer open ones.
    assert_eq!(seen, ["rampart-serve-0", "rampart-serve-1", "rampart-serve-0", "rampart-serve-1"]);
    drop(connections);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap().stop().await;
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_requests_and_the_work_they_left_running() {
    let finished_later = Arc::new(AtomicBool::new(false));
    let flag = finished_later.clone();
    let app = Router::new().route(
        "/slow",
        get(move || {
            let flag = flag.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(300)).await;
                crate::background::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    flag.store(true, Ordering::SeqCst);
                });
                "done"
            }
        }),
    );
    // What the app holds (the request log's queue, say) is let go once serving ends: the
    // binary's shutdown waits for the request log's writer, which ends with the last clone.
    let held_by_the_app = Arc::new(());
    let app = app.layer(axum::Extension(held_by_the_app.clone()));
    let (address, stop, server) = start(app, 2).await;
    let mut connection = BufReader::new(TcpStream::connect(address).await.unwrap());
    let request = tokio::spawn(async move { get_on(&mut connection, "/slow").await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.send(()).unwrap();
    assert_eq!(request.await.unwrap(), "done", "an in-flight request is answered");
    let workers = server.await.unwrap().unwrap();
    assert!(finished_later.load(Ordering::SeqCst), "serve returned before the request's background work ended");
    assert!(TcpStream::connect(address).await.is_err(), "no new connections once shutdown began");
    assert_eq!(Arc::strong_count(&held_by_the_app), 1, "the workers still hold the app after serving ended");
    workers.stop().await;
}

#[tokio::test]
async fn one_worker_serves_everything() {
    let app =
        Router::new().route("/thread", get(|| async { std::thread::current().name().unwrap_or_default().to_owned() }));
    let (address, stop, server) = start(app, 1).await;
    for _ in 0..3 {
        let mut connection = BufReader::new(TcpStream::connect(address).await.unwrap());
        assert_eq!(get_on(&mut connection, "/thread").await, "rampart-serve-0");
    }
    stop.send(()).unwrap();
    server.await.unwrap().unwrap().stop().await;
}
