// Marks one ELF symbol-version *need* weak, so that a shared library built against a newer libstdc++
// (TorchSharp 0.107's libLibTorchSharp.so needs GLIBCXX_3.4.32, GCC 13) loads on a system whose libstdc++
// stops earlier (Debian 12: GLIBCXX_3.4.30). The only symbol bound to that version is
// std::ios_base_library_init(), which no relocation uses, so the weak need is safe.
//
// This one file serves two builds:
//  * WarmStart.Core compiles it (WARMSTART_CORE defined) for the run-time guard (dotnet fsi, system libtorch);
//  * Directory.Build.targets compiles it with RoslynCodeTaskFactory for the build-time patch of bin copies,
//    where the MSBuild task class at the bottom is included.
#nullable enable
using System;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text;

namespace WarmStart.Core.Native
{
    /// <summary>Outcome of looking for (and weakening) a version need in an ELF file.</summary>
    public enum VerneedState
    {
        /// <summary>The file is not a little-endian 64-bit ELF object.</summary>
        NotElf,
        /// <summary>The file declares no need for that version: nothing to do.</summary>
        Absent,
        /// <summary>The need exists and is already marked weak.</summary>
        Weak,
        /// <summary>The need exists and is strong (the loader will refuse it if the version is missing).</summary>
        Strong,
    }

    /// <summary>Reads and edits the <c>.gnu.version_r</c> (SHT_GNU_verneed) section of a 64-bit ELF file.</summary>
    public static class ElfVerneed
    {
        /// <summary>The version TorchSharp 0.107's native shim needs and Debian 12's libstdc++ lacks.</summary>
        public const string GlibcxxVersion = "GLIBCXX_3.4.32";

        const uint ShtGnuVerneed = 0x6ffffffe;
        const ushort VerFlgWeak = 0x2;

        /// <summary>Finds the Vernaux entry named <paramref name="version"/> and reports its state;
        /// <paramref name="flagsOffset"/> is the file offset of its <c>vna_flags</c> field (or -1).</summary>
        public static VerneedState Inspect(byte[] elf, string version, out long flagsOffset)
        {
            flagsOffset = -1;
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F'
                || elf[4] != 2 /* ELFCLASS64 */ || elf[5] != 1 /* little-endian */)
                return VerneedState.NotElf;
            long shoff = (long)U64(elf, 0x28);
            int shentsize = U16(elf, 0x3A), shnum = U16(elf, 0x3C);
            if (shoff <= 0 || shentsize < 64 || shoff + (long)shentsize * shnum > elf.Length) return VerneedState.NotElf;
            for (int s = 0; s < shnum; s++)
            {
                long sh = shoff + (long)s * shentsize;
                if (U32(elf, sh + 4) != ShtGnuVerneed) continue;
                long off = (long)U64(elf, sh + 0x18);
                uint link = U32(elf, sh + 0x28), count = U32(elf, sh + 0x2C);
                if (link >= shnum) return VerneedState.NotElf;
                long strOff = (long)U64(elf, shoff + (long)link * shentsize + 0x18);
                long vn = off;
                for (uint i = 0; i < count && vn + 16 <= elf.Length; i++)
                {
                    int cnt = U16(elf, vn + 2);
                    long aux = vn + U32(elf, vn + 8);
                    for (int j = 0; j < cnt && aux + 16 <= elf.Length; j++)
                    {
                        if (CStringEquals(elf, strOff + U32(elf, aux + 8), version))
                        {
                            flagsOffset = aux + 4;
                            return (U16(elf, aux + 4) & VerFlgWeak) != 0 ? VerneedState.Weak : VerneedState.Strong;
                        }
                        uint nextAux = U32(elf, aux + 12);
                        if (nextAux == 0) break;
                        aux += nextAux;
                    }
                    uint next = U32(elf, vn + 12);
                    if (next == 0) break;
                    vn += next;
                }
            }
            return VerneedState.Absent;
        }

        /// <summary>Sets VER_FLG_WEAK on the need for <paramref name="version"/> in memory; returns the state found before.</summary>
        public static VerneedState MarkWeak(byte[] elf, string version)
        {
            var state = Inspect(elf, version, out long at);
            if (state == VerneedState.Strong)
            {
                ushort flags = (ushort)(U16(elf, at) | VerFlgWeak);
                elf[at] = (byte)(flags & 0xff);
                elf[at + 1] = (byte)(flags >> 8);
            }
            return state;
        }

        /// <summary>Writes a weakened copy of <paramref name="source"/> to <paramref name="destination"/> atomically
        /// (temp file + rename, so a concurrent reader never sees half a file) and keeps the source's timestamp.
        /// Returns the state found in the source.</summary>
        public static VerneedState WriteWeakCopy(string source, string destination, string version)
        {
            var bytes = File.ReadAllBytes(source);
            var state = MarkWeak(bytes, version);
            if (state != VerneedState.Strong && Path.GetFullPath(source) == Path.GetFullPath(destination)) return state;
            var dir = Path.GetDirectoryName(Path.GetFullPath(destination))!;
            Directory.CreateDirectory(dir);
            var tmp = Path.Combine(dir, "." + Path.GetFileName(destination) + "." + Guid.NewGuid().ToString("N") + ".tmp");
            try
            {
                File.WriteAllBytes(tmp, bytes);
                File.SetLastWriteTimeUtc(tmp, File.GetLastWriteTimeUtc(source));
                // netstandard2.0 (the MSBuild task) has no File.Move(overwrite); Replace is a rename on Unix.
                if (File.Exists(destination)) File.Replace(tmp, destination, null);
                else File.Move(tmp, destination);
            }
            finally
            {
                if (File.Exists(tmp)) File.Delete(tmp);
            }
            return state;
        }

        /// <summary>True when the libstdc++ at <paramref name="libstdcxxPath"/> defines <paramref name="version"/>
        /// (its name then appears, NUL-terminated, in the library's dynamic string table).</summary>
        public static bool DefinesVersion(string libstdcxxPath, string version)
        {
            var bytes = File.ReadAllBytes(libstdcxxPath);
            var needle = Encoding.ASCII.GetBytes(version + "\0");
            for (int i = 0; i + needle.Length <= bytes.Length; i++)
            {
                if (bytes[i] != needle[0]) continue;
                int k = 1;
                while (k < needle.Length && bytes[i + k] == needle[k]) k++;
                if (k == needle.Length) return true;
            }
            return false;
        }

        /// <summary>The libstdc++.so.6 the dynamic loader gives this process (loads it if needed and reads
        /// /proc/self/maps), or null when there is none (not Linux, or a static C++ runtime).</summary>
        public static string? LoadedLibstdcxx()
        {
            if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux)) return null;
#if WARMSTART_CORE
            if (!NativeLibrary.TryLoad("libstdc++.so.6", out _)) return null;
#endif
            foreach (var line in File.ReadLines("/proc/self/maps"))
            {
                int slash = line.IndexOf('/');
                if (slash < 0) continue;
                var path = line.Substring(slash).Trim();
                if (Path.GetFileName(path).StartsWith("libstdc++.so", StringComparison.Ordinal)) return path;
            }
            // Not mapped into this process (the MSBuild task cannot load it on netstandard2.0): the usual places.
            return new[] { "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                           "/usr/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6", "/usr/lib/aarch64-linux-gnu/libstdc++.so.6" }
                .FirstOrDefault(File.Exists);
        }

        /// <summary>True when this machine's libstdc++ lacks <see cref="GlibcxxVersion"/>, i.e. the patch is needed.</summary>
        public static bool SystemNeedsPatch()
        {
            var lib = LoadedLibstdcxx();
            return lib != null && !DefinesVersion(lib, GlibcxxVersion);
        }

        static bool CStringEquals(byte[] b, long at, string s)
        {
            if (at < 0 || at + s.Length >= b.Length) return false;
            for (int i = 0; i < s.Length; i++) if (b[at + i] != (byte)s[i]) return false;
            return b[at + s.Length] == 0;
        }

        static ushort U16(byte[] b, long at) => at + 2 <= b.Length ? BitConverter.ToUInt16(b, (int)at) : (ushort)0;
        static uint U32(byte[] b, long at) => at + 4 <= b.Length ? BitConverter.ToUInt32(b, (int)at) : 0u;
        static ulong U64(byte[] b, long at) => at + 8 <= b.Length ? BitConverter.ToUInt64(b, (int)at) : 0ul;
    }
}

#if !WARMSTART_CORE
namespace WarmStart.Build
{
    /// <summary>MSBuild task: weakens the GLIBCXX_3.4.32 need of the given copies of libLibTorchSharp.so,
    /// only when this machine's libstdc++ lacks that version (a no-op on newer systems).</summary>
    public class MarkGlibcxxNeedWeak : Microsoft.Build.Utilities.Task
    {
        /// <summary>Copies to patch in place (never the NuGet cache: callers pass bin/publish copies).</summary>
        public Microsoft.Build.Framework.ITaskItem[] Files { get; set; } = Array.Empty<Microsoft.Build.Framework.ITaskItem>();

        /// <inheritdoc />
        public override bool Execute()
        {
            if (!WarmStart.Core.Native.ElfVerneed.SystemNeedsPatch()) return true;
            foreach (var item in Files)
            {
                var path = item.ItemSpec;
                if (!File.Exists(path)) continue;
                var state = WarmStart.Core.Native.ElfVerneed.WriteWeakCopy(path, path, WarmStart.Core.Native.ElfVerneed.GlibcxxVersion);
                if (state == WarmStart.Core.Native.VerneedState.Strong)
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                        $"WarmStart: marked {WarmStart.Core.Native.ElfVerneed.GlibcxxVersion} weak in {path}");
            }
            return true;
        }
    }
}
#endif
