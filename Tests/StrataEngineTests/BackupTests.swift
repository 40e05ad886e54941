import Foundation
import StrataEngine
import StrataLocalServers
import StrataStore
import Testing

@Suite struct BackupTests {
    /// The commands take bucket URLs as they take directories: SQL into a bucket, then
    /// `backup` to a directory and back to a second bucket, incrementally; every copy
    /// opens, answers the same query (time travel included) and verifies.
    @Test func backupCopiesBetweenDirectoriesAndBucketsIncrementally() async throws {
        let bucket = try await Place.s3.makeLocation()
        let dir = temporaryDirectory() + "/copy"
        let bucket2 = try await Place.s3.makeLocation()
        #expect(try await runStrata(["sql", bucket, "CREATE TABLE t (id INT PRIMARY KEY, name TEXT)"]).status == 0)
        for i in 0..<5 {
            #expect(try await runStrata(["sql", bucket, "INSERT INTO t VALUES (\(i), 'n\(i)')"]).status == 0)
        }
        #expect(try await runStrata(["kv", bucket, "put", "raw", "bytes"]) == (0, "committed 7\n"))
        // A flush, so the copy holds segments and a checkpoint as well as log entries.
        let engine = try await Engine.open(try StoreLocation.open(bucket))
        try await engine.flush()
        await engine.close()

        let first = try await runStrata(["backup", bucket, dir])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("verified branch main") && first.output.contains(": ok"), "\(first.output)")
        let query = "SELECT id, name FROM t ORDER BY id"
        let expected = try await runStrata(["sql", bucket, query]).output
        #expect(try await runStrata(["sql", dir, query]).output == expected)
        #expect(try await runStrata(["sql", dir, "SELECT count(*) FROM t FOR SYSTEM_TIME AS OF VERSION 3"]).output.contains("2"))

        // Nothing new: nothing copied.
        let again = try await Engine.backup(from: try StoreLocation.open(bucket), to: try StoreLocation.open(dir))
        #expect(again.objectsCopied == 0 && again.entriesCopied == 0 && again.skipped > 0)
        // Two more commits: only they travel.
        #expect(try await runStrata(["sql", bucket, "INSERT INTO t VALUES (10, 'ten'), (11, 'eleven')"]).status == 0)
        #expect(try await runStrata(["sql", bucket, "DELETE FROM t WHERE id = 0"]).status == 0)
        let increment = try await Engine.backup(from: try StoreLocation.open(bucket), to: try StoreLocation.open(dir))
        #expect(increment.entriesCopied == 2 && increment.objectsCopied == 0)
        #expect(try await runStrata(["sql", dir, query]).output == (try await runStrata(["sql", bucket, query]).output))

        // Directory back to a new bucket.
        let back = try await runStrata(["backup", dir, bucket2])
        #expect(back.status == 0 && back.output.contains(": ok"), "\(back.output)")
        #expect(try await runStrata(["sql", bucket2, query]).output == (try await runStrata(["sql", dir, query]).output))
        #expect(try await runStrata(["verify", bucket2]).status == 0)
        #expect(try await runStrata(["kv", bucket2, "get", "raw"]) == (0, "bytes\n"))
        #expect(try await runStrata(["log", bucket2]).output.split(separator: "\n").count == 10)

        // A copy that went its own way is refused, not overwritten.
        #expect(try await runStrata(["kv", bucket2, "put", "mine", "only"]).status == 0)
        #expect(try await runStrata(["kv", bucket, "put", "theirs", "only"]).status == 0)
        let diverged = try await runStrata(["backup", bucket, bucket2])
        #expect(diverged.status != 0 && diverged.output.contains("diverged"), "\(diverged.output)")
    }

    /// Bad bucket URLs are refused with a message naming the problem.
    @Test func badURLsAreExplained() async throws {
        let r = try await runStrata(["kv", "s3://Bad_Bucket?endpoint=http://127.0.0.1:1", "scan"])
        #expect(r.status != 0 && r.output.contains("invalid bucket name"), "\(r.output)")
        let moto = try await MotoServer.shared()
        let missing = try await runStrata(["kv", "s3://no-such-bucket-x?endpoint=\(moto.endpoint)&cache=none", "scan"])
        #expect(missing.status != 0 && missing.output.contains("does not exist"), "\(missing.output)")
    }
}
