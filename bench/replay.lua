-- wrk script: replays presigned Slack requests round-robin and prints one JSON result line.
-- BENCH_REQUESTS names a file with one request per line:
--   timestamp <TAB> X-Slack-Signature <TAB> Content-Type <TAB> body
local requests = {}
local index = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_REQUESTS")) do
    local timestamp, signature, content_type, body =
      line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
    if body then
      requests[#requests + 1] = wrk.format("POST", nil, {
        ["X-Slack-Request-Timestamp"] = timestamp,
        ["X-Slack-Signature"] = signature,
        ["Content-Type"] = content_type,
      }, body)
    end
  end
end

function request()
  index = index % #requests + 1
  return requests[index]
end

function done(summary, latency, _)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us": %d, "requests": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.duration, summary.requests, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
