"""Latency and lost requests of a model server, for bench/deploy-vs-mlflow.sh.

  latency PORT N     N sequential POST /invocations of the iris example on one
                     keep-alive connection; prints p50 and p95 in milliseconds.
  load PORT FILE     POSTs from two threads until FILE exists; prints the
                     requests answered 200 and those that failed.
"""
import http.client, json, os, sys, threading, time

EXAMPLE = json.dumps({"dataframe_split": {
    "columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"],
    "data": [[5.1, 3.5, 1.4, 0.2], [4.9, 3.0, 1.4, 0.2], [4.7, 3.2, 1.3, 0.2]]}})
HEADERS = {"Content-Type": "application/json"}


def latency(port, n):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    for i in range(n + 20):
        started = time.perf_counter()
        connection.request("POST", "/invocations", EXAMPLE, HEADERS)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200 or b"predictions" not in body:
            sys.exit(f"request {i} failed: {response.status} {body[:200]!r}")
        if i >= 20:  # the first requests warm both servers up
            times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"{times[len(times) // 2]:.3f} {times[int(len(times) * 0.95)]:.3f}")


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
        latency(int(sys.argv[2]), int(sys.argv[3]))
    else:
        load(int(sys.argv[2]), sys.argv[3])
