import Foundation
import StrataLocalServers
import StrataStore
import Testing

@Suite struct DiskCachedStoreTests {
    func object(_ n: Int, seed: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: ($0 &+ seed) &* 2_654_435_761 >> 11) } }

    func cacheDirectory() -> String { NSTemporaryDirectory() + "strata-cache-\(UUID().uuidString.prefix(8))" }

    /// Whole and ranged reads are served from disk once fetched: no request reaches the
    /// bucket the second time, and every answer equals the object.
    @Test func repeatedReadsSendNoRequests() async throws {
        let s3 = S3Store(try await MotoServer.shared().makeBucket())
        let cached = try DiskCachedStore(s3, directory: cacheDirectory(), limit: 64 << 20, chunkSize: 64 << 10)
        let data = object(300_000, seed: 1)
        try await cached.put("obj/a", data)
        try await s3.put("obj/b", data)
        let ranges = [0..<10, 65_530..<65_550, 100_000..<250_000, 299_990..<300_100, 299_999..<300_000, 0..<300_000]
        for r in ranges {
            #expect(try await cached.get("obj/b", range: r) == Array(data[r.clamped(to: 0..<data.count)]))
        }
        let requests = s3.statistics.requests
        for r in ranges {
            #expect(try await cached.get("obj/b", range: r) == Array(data[r.clamped(to: 0..<data.count)]))
            #expect(try await cached.get("obj/a", range: r) == Array(data[r.clamped(to: 0..<data.count)]))
        }
        #expect(try await cached.get("obj/a") == data)
        #expect(s3.statistics.requests == requests, "cached reads went to the bucket")
        // Keys outside the immutable prefixes are never cached.
        try await cached.put("log/main/1", [1])
        try await s3.put("log/main/1", [2])
        #expect(try await cached.get("log/main/1") == [2])
    }

    /// The cache stays near its limit, evicting least recently used files; two stores
    /// (two processes) sharing the directory agree, and a damaged file is fetched again.
    @Test func staysBoundedSharedAndSelfHealing() async throws {
        let s3 = S3Store(try await MotoServer.shared().makeBucket())
        let dir = cacheDirectory()
        let one = try DiskCachedStore(s3, directory: dir, limit: 1 << 20)
        let two = try DiskCachedStore(s3, directory: dir, limit: 1 << 20)
        var objects: [[UInt8]] = []
        for i in 0..<24 {
            objects.append(object(100_000, seed: i))
            try await s3.put("obj/\(i)", objects[i])
        }
        for i in 0..<24 {
            let store = i % 2 == 0 ? one : two
            #expect(try await store.get("obj/\(i)") == objects[i])
        }
        func cacheBytes() -> Int {
            let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
            return files.filter { !$0.hasPrefix(".") }.reduce(0) { total, f in
                total + ((try? FileManager.default.attributesOfItem(atPath: dir + "/" + f)[.size] as? Int) ?? 0)
            }
        }
        #expect(cacheBytes() <= 1 << 20 + 2 * 100_004, "cache grew to \(cacheBytes())")
        #expect(cacheBytes() > 500_000)
        // Every object is still right, from either store.
        for i in 0..<24 { #expect(try await two.get("obj/\(i)") == objects[i]) }
        // Damage every cached file: reads still return the true bytes.
        let files = FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String } ?? []
        var damaged = 0
        for f in files where f.hasSuffix(".all") {
            let h = try FileHandle(forUpdating: URL(fileURLWithPath: dir + "/" + f))
            try h.seek(toOffset: 10)
            h.write(Data([0xff, 0x00, 0xff]))
            try h.close()
            damaged += 1
        }
        #expect(damaged > 0)
        let before = one.statistics.misses
        for i in 0..<24 { #expect(try await one.get("obj/\(i)") == objects[i]) }
        #expect(one.statistics.misses - before == 24)
    }
}
