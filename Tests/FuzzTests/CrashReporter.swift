import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes a trap, a stack overflow or a hang name the input that caused it.
///
/// A trap kills the whole test process, so nothing can catch it; instead, before each case the
/// harness `arm`s the reporter with the case's label and input, and a signal handler (SIGILL,
/// SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, on an alternate stack so stack overflows are reported too)
/// writes them to stderr and to `MESHD_FUZZ_CRASH_FILE` (default `$TMPDIR/meshd-fuzz-crash.txt`)
/// with async-signal-safe calls only, then lets the signal kill the process as before.
/// A watchdog thread does the same for a case that runs longer than the configured timeout.
enum CrashReporter {
    private struct Buffer {
        var pointer: UnsafeMutablePointer<UInt8>?
        var count = 0
        var capacity = 0
        /// Where the raw input sits inside the buffer.
        var inputStart = 0
        var inputCount = 0
    }

    // Only touched by the fuzz thread (arm) and the signal handler (read); the suite is serialized.
    nonisolated(unsafe) private static var buffer = Buffer()
    nonisolated(unsafe) private static var pathBuffer: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var inputPathBuffer: UnsafeMutablePointer<CChar>?
    nonisolated(unsafe) private static var installed = false
    /// The handlers that were installed before ours (the Swift runtime's backtracer), restored
    /// before the signal is raised again so they still run.
    nonisolated(unsafe) private static var previous = UnsafeMutablePointer<sigaction>.allocate(capacity: 65)
    private static let progress = Mutex(Progress())

    private struct Progress {
        var generation = 0
        var label = ""
        var input = ""
        var startedAt = Date.distantFuture
        var timeout = 20.0
    }

    static var crashFilePath: String {
        ProcessInfo.processInfo.environment["MESHD_FUZZ_CRASH_FILE"]
            ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("meshd-fuzz-crash.txt")
    }

    /// The raw input alone, ready to be copied into the corpus.
    static var inputFilePath: String { crashFilePath + ".input" }

    /// Installs the handlers (once) and an alternate signal stack for the calling thread.
    static func install(caseTimeout: Double) {
        progress.withLock { $0.timeout = caseTimeout }
        let stackSize = 1 << 16
        var stack = stack_t()
        stack.ss_sp = UnsafeMutableRawPointer.allocate(byteCount: stackSize, alignment: 16)
        stack.ss_size = stackSize
        stack.ss_flags = 0
        sigaltstack(&stack, nil)
        guard !installed else { return }
        installed = true
        let path = crashFilePath
        pathBuffer = strdup(path)
        inputPathBuffer = strdup(inputFilePath)
        for sig in [SIGILL, SIGTRAP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE] {
            var action = sigaction()
            #if canImport(Glibc)
            action.__sigaction_handler.sa_handler = handler
            #else
            action.__sigaction_u.__sa_handler = handler
            #endif
            action.sa_flags = Int32(SA_ONSTACK)
            sigemptyset(&action.sa_mask)
            sigaction(sig, &action, previous + Int(sig))
        }
        startWatchdog()
    }

    /// Records the case about to run.
    static func arm(label: String, input: String) {
        let header =
            "\n[fuzz] the process died in case \(label); its input follows (also in \(crashFilePath), "
            + "raw in \(inputFilePath))\n"
        let bytes = Array(header.utf8) + Array(input.utf8) + Array("\n[fuzz] end of input\n".utf8)
        if buffer.capacity < bytes.count {
            buffer.pointer?.deallocate()
            buffer.pointer = .allocate(capacity: bytes.count * 2)
            buffer.capacity = bytes.count * 2
        }
        // Publish the new count only after the bytes are in place, and zero while they change.
        buffer.count = 0
        bytes.withUnsafeBufferPointer { buffer.pointer!.update(from: $0.baseAddress!, count: bytes.count) }
        buffer.inputStart = header.utf8.count
        buffer.inputCount = input.utf8.count
        buffer.count = bytes.count
        progress.withLock {
            $0.generation += 1
            $0.label = label
            $0.input = input
            $0.startedAt = Date()
        }
    }

    /// The case finished.
    static func disarm() {
        buffer.count = 0
        progress.withLock { $0.startedAt = .distantFuture }
    }

    private static let handler: @convention(c) (Int32) -> Void = { signal in
        if let pointer = CrashReporter.buffer.pointer, CrashReporter.buffer.count > 0 {
            _ = write(2, pointer, CrashReporter.buffer.count)
            if let path = CrashReporter.pathBuffer {
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 {
                    _ = write(fd, pointer, CrashReporter.buffer.count)
                    close(fd)
                }
            }
            if let path = CrashReporter.inputPathBuffer {
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
                if fd >= 0 {
                    _ = write(fd, pointer + CrashReporter.buffer.inputStart, CrashReporter.buffer.inputCount)
                    close(fd)
                }
            }
        }
        sigaction(signal, CrashReporter.previous + Int(signal), nil)
        raise(signal)
    }

    private static func startWatchdog() {
        let thread = Thread {
            var reported = -1
            while true {
                Thread.sleep(forTimeInterval: 1)
                let (generation, label, input, started, timeout) = progress.withLock {
                    ($0.generation, $0.label, $0.input, $0.startedAt, $0.timeout)
                }
                guard generation != reported, Date().timeIntervalSince(started) > timeout else { continue }
                reported = generation
                let text =
                    "\n[fuzz] HANG: case \(label) has run for more than \(Int(timeout)) s; its input follows (also in \(crashFilePath))\n"
                    + input + "\n[fuzz] end of input\n"
                FileHandle.standardError.write(Data(text.utf8))
                try? text.write(toFile: crashFilePath, atomically: true, encoding: .utf8)
                try? input.write(toFile: inputFilePath, atomically: true, encoding: .utf8)
                // A hung case cannot be cancelled (it is synchronous); end the run so CI fails
                // with the case printed rather than timing out with nothing.
                fatalError("fuzz case \(label) hung (more than \(timeout) s)")
            }
        }
        thread.name = "fuzz-watchdog"
        thread.start()
    }
}
