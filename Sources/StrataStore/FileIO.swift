#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Positioned reads and writes that retry on `EINTR` and short transfers; errors name `key`.
enum FileIO {
    /// Reads into `buf` from `offset`; returns how many bytes were read (fewer only at end of file).
    static func read(_ fd: Int32, into buf: UnsafeMutableRawBufferPointer, at offset: Int, key: String) throws -> Int {
        var done = 0
        while done < buf.count {
            let n = pread(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw DirectoryStore.error(errno, key)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `bytes` at `offset`.
    static func write(_ fd: Int32, _ bytes: [UInt8], at offset: Int, key: String) throws {
        try bytes.withUnsafeBytes { buf in
            var done = 0
            while done < buf.count {
                let n = pwrite(fd, buf.baseAddress! + done, buf.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw DirectoryStore.error(errno, key)
                }
                done += n
            }
        }
    }
}
