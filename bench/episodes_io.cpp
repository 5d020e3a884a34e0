// Benchmark of the data path at Omniglot scale: write and read an fsh-dataset of M images
// (28x28x1, default 129,840 = the rotated Vinyals split), fingerprint it, sample 600 5-way
// 1-shot 15-query episodes, write them plain and embedded. Prints seconds per step (best of
// --repeat runs) and file sizes. Images are noisy rings of ink on a clean background, which
// compress about like glyph images (the real rotated Omniglot split: 100 MB -> 19 MB).
#include "io/episodes_io.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>

#include "backend/cpu/blas_info.hpp"
#include "common/cli.hpp"
#include "data/episodes.hpp"
#include "data/fingerprint.hpp"
#include "io/dataset_io.hpp"
#include "util/rng.hpp"
#include "util/version.hpp"

namespace {

double best_of(int repeat, const std::function<void()>& f) {
  double best = 1e30;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(best,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  return fsh::cli::run_main("bench-episodes_io", argc, argv, [](int ac, char** av) {
    CLI::App app("Benchmark of dataset/episodes I/O and sampling", "bench-episodes_io");
    int64_t images = 129840, per_class = 20;
    int repeat = 3;
    std::string folder = std::filesystem::temp_directory_path().string();
    app.add_option("--images", images, "images in the dataset")
        ->check(CLI::Range(int64_t{100}, int64_t{10000000}))
        ->capture_default_str();
    app.add_option("--repeat", repeat, "runs per step (the best is reported)")
        ->check(CLI::Range(1, 100))
        ->capture_default_str();
    app.add_option("--dir", folder, "where to write the files")->capture_default_str();
    fsh::cli::parse(app, ac, av);
    // No BLAS work here, but every benchmark names the machine setup with its figures.
    std::printf("BLAS: %s\nbuild: %s\n", fsh::blas_summary().c_str(),
                fsh::build_target().c_str());

    fsh::Dataset d;
    d.height = d.width = 28;
    d.channels = 1;
    const int64_t classes = images / per_class;
    for (int64_t c = 0; c < classes; ++c) {
      d.class_names.push_back("Bench/character" + std::to_string(c));
      d.class_group.push_back(0);
    }
    d.group_names = {"Bench"};
    fsh::Rng rng(1);
    d.images.resize(static_cast<std::size_t>(classes * per_class * 784));
    for (int64_t i = 0; i < classes * per_class; ++i) {
      d.labels.push_back(static_cast<int32_t>(i / per_class));
      // A ring of ink whose radius depends on the class, noisy ink on a clean background.
      const double r0 = 4 + static_cast<double>((i / per_class) % 9);
      for (int y = 0; y < 28; ++y)
        for (int x = 0; x < 28; ++x) {
          const double r = std::hypot(x - 13.5, y - 13.5);
          const double ink = std::max(0.0, 1 - std::fabs(r - r0) / 1.5);
          d.images[static_cast<std::size_t>(i * 784 + y * 28 + x)] =
              ink > 0 ? static_cast<uint8_t>(std::min(255.0, 230 * ink + 25 * rng.uniform())) : 0;
        }
    }
    const std::string data = folder + "/bench-dataset.h5", eps = folder + "/bench-episodes.h5";
    const auto prov = fsh::make_provenance("bench", "", 1, {});
    std::printf("dataset: %lld images of 28x28x1 (%.1f MB raw), %lld classes\n",
                static_cast<long long>(d.size()), d.images.size() / 1e6,
                static_cast<long long>(classes));
    std::printf("write dataset      %.3f s\n",
                best_of(repeat, [&] { fsh::write_dataset(d, data, prov); }));
    std::printf("  file size        %.1f MB\n", std::filesystem::file_size(data) / 1e6);
    fsh::Dataset back;
    std::printf("read dataset       %.3f s (includes checking the fingerprint)\n",
                best_of(repeat, [&] { back = fsh::read_dataset(data); }));
    std::string fp;
    std::printf("fingerprint        %.3f s\n",
                best_of(repeat, [&] { fp = fsh::dataset_fingerprint(d); }));
    fsh::SampleOptions o;
    o.count = 600;
    fsh::Episodes e;
    std::printf("sample 600 5w1s15q %.3f s\n",
                best_of(repeat, [&] { e = fsh::sample_episodes(back, o, data, fp); }));
    std::printf("write episodes     %.3f s\n",
                best_of(repeat, [&] { fsh::write_episodes(e, eps, prov); }));
    std::printf("  file size        %.2f MB\n", std::filesystem::file_size(eps) / 1e6);
    fsh::embed_images(e, back);
    std::printf("write embedded     %.3f s\n",
                best_of(repeat, [&] { fsh::write_episodes(e, eps, prov); }));
    std::printf("  file size        %.2f MB\n", std::filesystem::file_size(eps) / 1e6);
    std::filesystem::remove(data);
    std::filesystem::remove(eps);
    return 0;
  });
}
