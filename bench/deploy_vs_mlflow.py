"""Latency and lost requests of a model server, for bench/deploy-vs-mlflow.sh.

  latency PORT_A PORT_B N
                     N sequential POST /invocations of the iris example to each
                     server, on one keep-alive connection each, in alternating
                     batches of 50 (so both see the same load on the machine);
                     prints p50 and p95 in milliseconds of A, then of B.
  load PORT FILE     POSTs from two threads until FILE exists; prints the
                     requests answered 200 and those that failed.
"""
import http.client, json, os, sys, threading, time

EXAMPLE = json.dumps({"dataframe_split": {
    "columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "data": [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [4.7, 3.2, 1.3, 0.2]]}})
HEADERS = {"Content-Type": "application/json"}


def latency(ports, n):
    connections = [http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in ports]
    times = [[] for _ in ports]
    batches = (n + 49) // 50 + 1  # the first batch warms both servers up
    for batch in range(batches):
        for index, connection in enumerate(connections):
            for i in range(50):
                started = time.perf_counter()
                connection.request("POST", "/invocations", EXAMPLE, HEADERS)
                response = connection.getresponse()
                body = response.read()
                if response.status != 200 or b"predictions" not in body:
                    sys.exit(f"request to {ports[index]} failed: {response.status} {body[:200]!r}")
                if batch > 0:
                    times[index].append((time.perf_counter() - started) * 1000)
    for series in times:
        series.sort()
        print(f"{series[len(series) // 2]:.3f} {series[int(len(series) * 0.95)]:.3f}", end=" ")
    print()


def load(port, stop_file):
    answered, failed = [0], []

    def worker():
        while not os.path.exists(stop_file):
            try:
                # A new connection per request, as many clients do.
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                connection.request("POST", "/invocations", EXAMPLE, HEADERS)
                response = connection.getresponse()
                response.read()
                connection.close()
                if response.status == 200:
                    answered[0] += 1
                else:
                    failed.append(response.status)
            except OSError as error:
                failed.append(str(error))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(answered[0], len(failed), failed[:3])


if __name__ == "__main__":
    if sys.argv[1] == "latency":
        latency([int(sys.argv[2]), int(sys.argv[3])], int(sys.argv[4]))
    else:
        load(int(sys.argv[2]), sys.argv[3])
