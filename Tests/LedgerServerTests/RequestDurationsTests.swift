import Testing

@testable import LedgerServer

/// `ledger_request_duration_seconds`, counted by the daemon itself: a duration falls in the
/// first bucket whose bound is at least it (Prometheus's `le`), and the text is one family.
@Suite struct RequestDurationsTests {
    @Test func eachDurationFallsInTheFirstBucketThatHoldsIt() {
        let bounds = RequestDurations.boundsNanos
        #expect(bounds.first == 50_000 && bounds.last == 10_000_000_000 && bounds == bounds.sorted())
        for (bucket, bound) in bounds.enumerated() {
            var tally = RequestDurations.Tally()
            tally.add(bound)
            tally.add(bound + 1)
            #expect(tally.counts[bucket] == 1, "\(bound) ns belongs to bucket \(bucket)")
            #expect(tally.counts[bucket + 1] == 1, "\(bound + 1) ns belongs to the bucket after \(bucket)")
            #expect(tally.count == 2 && tally.sumNanos == 2 * bound + 1)
        }
        var tally = RequestDurations.Tally()
        tally.add(-5)
        tally.add(0)
        #expect(tally.counts[0] == 2 && tally.sumNanos == 0, "a negative duration counts as 0")
    }

    @Test func theTextIsOneCumulativeFamilyPerProtocol() {
        let durations = RequestDurations()
        var tally = RequestDurations.Tally()
        for nanos: Int64 in [10_000, 60_000, 60_000, 3_000_000, 20_000_000_000] { tally.add(nanos) }
        durations.merge(&tally, .tcp)
        #expect(tally.count == 0 && tally.counts.allSatisfy { $0 == 0 } && tally.sumNanos == 0, "merging empties the tally")
        durations.record(1_500_000_000, .http)
        #expect(durations.totals(.tcp).count == 5 && durations.totals(.http).count == 1)

        let lines = durations.render().split(separator: "\n").map(String.init)
        #expect(lines.filter { $0.hasPrefix("# TYPE") } == ["# TYPE ledger_request_duration_seconds histogram"])
        func value(_ sample: String) -> String? {
            lines.first { $0.hasPrefix(sample + " ") }.map { String($0.dropFirst(sample.count + 1)) }
        }
        let tcp = #"ledger_request_duration_seconds_bucket{protocol="tcp",le="#
        #expect(value(tcp + #""0.00005"}"#) == "1")
        #expect(value(tcp + #""0.0001"}"#) == "3")
        #expect(value(tcp + #""0.005"}"#) == "4")
        #expect(value(tcp + #""10.0"}"#) == "4", "20 s is above every bound")
        #expect(value(tcp + #""+Inf"}"#) == "5")
        #expect(value(#"ledger_request_duration_seconds_sum{protocol="tcp"}"#) == "20.00313")
        #expect(value(#"ledger_request_duration_seconds_count{protocol="tcp"}"#) == "5")
        #expect(value(#"ledger_request_duration_seconds_sum{protocol="http"}"#) == "1.5")
        #expect(value(#"ledger_request_duration_seconds_count{protocol="http"}"#) == "1")
        let buckets = lines.filter { $0.hasPrefix("ledger_request_duration_seconds_bucket") }
        #expect(buckets.count == 2 * (RequestDurations.boundsNanos.count + 1))
    }
}
