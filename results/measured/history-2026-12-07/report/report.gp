# report.gp: written by `stopgrad report`; reads report.dat beside it and
# writes report.png (or the file named by OUT: gnuplot -e "OUT='x.png'").
if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
  set terminal pngcairo size 1600,1737 font 'DejaVu Sans,9' noenhanced
} else {
  set terminal png size 1600,1737 noenhanced
}
if (!exists('OUT')) OUT = '/work/wt-history/results/measured/history-2026-12-07/report/report.png'
set output OUT
set multiplot
set lmargin at screen 0.42
set rmargin at screen 0.97
set grid xtics lc rgb '#dddddd'
set ytics nomirror scale 0
set xtics nomirror
set border 3

set origin 0,0.7714
set size 1,0.2286
set title "training step: images/s (higher is better)"
set key outside top center horizontal
set logscale x
set xrange [10:30095.1]
set yrange [6.60:-0.6]
set ytics ("step stl10 batch=64" 0, "step stl10_directpred batch=64" 1, "step fmnist batch=64" 2, "step fmnist_directpred batch=64" 3, "step stl10 batch=128" 4, "step stl10_directpred batch=128" 5, "step cifar10 batch=128" 6)
plot '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 0 using 2:($1-0.2667):(10):2:($1-0.3867):($1-0.1467) with boxxyerror fillstyle solid 0.85 noborder lc 1 title "cpu AMD EPYC (54f67c) #1", \
     '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 0 using 3:($1+0.0000):(10):3:($1-0.1200):($1+0.1200) with boxxyerror fillstyle solid 0.85 noborder lc 2 title "cpu AMD EPYC (54f67c)", \
     '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 0 using 4:($1+0.2667):(10):4:($1+0.1467):($1+0.3867) with boxxyerror fillstyle solid 0.85 noborder lc 3 title "cuda NVIDIA H200 (6c899c)"

set origin 0,0.0000
set size 1,0.7714
set title "kernels: GFLOP/s (higher is better); the 30 kernels with the largest share of the step time"
unset key
set logscale x
set xrange [1:55618.7]
set yrange [29.60:-0.6]
set ytics ("conv2d_fwd N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1 [fmnist]" 0, "conv2d_fwd N=128,C=64,H=32,W=32,K=64,R=3,S=3,stride=1,pad=1 [cifar10]" 1, "conv2d_fwd N=128,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1 [stl10]" 2, "conv2d_fwd N=128,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 3, "conv2d_bwd_filter N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1,acc=1 [fmnist]" 4, "conv2d_fwd N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1 [fmnist_directpred]" 5, "conv2d_bwd_data N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1 [fmnist]" 6, "conv2d_fwd N=64,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 7, "conv2d_fwd N=64,C=128,H=12,W=12,K=128,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 8, "conv2d_fwd N=64,C=64,H=3,W=3,K=64,R=3,S=3,stride=1,pad=1 [fmnist]" 9, "conv2d_fwd N=64,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1 [stl10]" 10, "conv2d_fwd N=64,C=128,H=12,W=12,K=128,R=3,S=3,stride=1,pad=1 [stl10]" 11, "conv2d_fwd N=64,C=16,H=10,W=10,K=16,R=3,S=3,stride=1,pad=1 [fmnist]" 12, "conv2d_bwd_filter N=128,C=64,H=32,W=32,K=64,R=3,S=3,stride=1,pad=1,acc=1 [cifar10]" 13, "conv2d_fwd N=64,C=32,H=5,W=5,K=32,R=3,S=3,stride=1,pad=1 [fmnist]" 14, "batchnorm_fwd_train N=64,C=16,HW=100,affine=1,running=1 [fmnist]" 15, "batchnorm_fwd_train N=64,C=64,HW=9,affine=1,running=1 [fmnist]" 16, "batchnorm_fwd_train N=64,C=32,HW=25,affine=1,running=1 [fmnist]" 17, "batchnorm_fwd_train N=64,C=8,HW=400,affine=1,running=1 [fmnist]" 18, "conv2d_fwd N=128,C=128,H=16,W=16,K=128,R=3,S=3,stride=1,pad=1 [cifar10]" 19, "conv2d_bwd_filter N=128,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1,acc=1 [stl10]" 20, "conv2d_bwd_filter N=128,C=64,H=24,W=24,K=64,R=3,S=3,stride=1,pad=1,acc=1 [stl10_directpred]" 21, "conv2d_bwd_filter N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1,acc=1 [fmnist_directpred]" 22, "conv2d_fwd N=128,C=128,H=12,W=12,K=128,R=3,S=3,stride=1,pad=1 [stl10]" 23, "conv2d_fwd N=64,C=256,H=6,W=6,K=256,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 24, "conv2d_bwd_data N=64,C=8,H=20,W=20,K=8,R=3,S=3,stride=1,pad=1 [fmnist_directpred]" 25, "conv2d_fwd N=128,C=128,H=12,W=12,K=128,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 26, "conv2d_fwd N=64,C=512,H=3,W=3,K=512,R=3,S=3,stride=1,pad=1 [stl10_directpred]" 27, "conv2d_fwd N=64,C=256,H=6,W=6,K=256,R=3,S=3,stride=1,pad=1 [stl10]" 28, "conv2d_bwd_data N=128,C=64,H=32,W=32,K=64,R=3,S=3,stride=1,pad=1 [cifar10]" 29)
plot '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 1 using 2:($1-0.2667):(1):2:($1-0.3867):($1-0.1467) with boxxyerror fillstyle solid 0.85 noborder lc 1 title "cpu AMD EPYC (54f67c) #1", \
     '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 1 using 3:($1+0.0000):(1):3:($1-0.1200):($1+0.1200) with boxxyerror fillstyle solid 0.85 noborder lc 2 title "cpu AMD EPYC (54f67c)", \
     '/work/wt-history/results/measured/history-2026-12-07/report/report.dat' index 1 using 4:($1+0.2667):(1):4:($1+0.1467):($1+0.3867) with boxxyerror fillstyle solid 0.85 noborder lc 3 title "cuda NVIDIA H200 (6c899c)"

unset multiplot
unset output
